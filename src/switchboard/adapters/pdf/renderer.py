"""Quotes and invoices as PDF, drawn with fpdf2 (pure Python, maintained by py-pdf).

Text is set in DejaVu Sans when the font is found (any script a customer's name may use);
otherwise in the PDF core font Helvetica, which covers Latin-1 only, so characters outside it
print as "?". ``SWITCHBOARD_PDF_FONT`` (a .ttf path) or the ``font_path`` argument picks a font;
Debian's ``fonts-dejavu-core`` package installs the default one.

fpdf2 is synchronous and CPU-bound: each document is drawn in a worker thread, never on the
event loop.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from switchboard.core.sales.currencies import format_money
from switchboard.core.sales.model import CounterKind, SalesDocument
from switchboard.core.sales.totals import decimal_text
from switchboard.ports.documents import PDF

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
)
FAMILY = "body"


def find_font() -> Path | None:
    configured = os.environ.get("SWITCHBOARD_PDF_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        path = Path(candidate)
        if path.is_file():
            return path
    return None


class FpdfDocumentRenderer:
    media_type = PDF

    def __init__(self, font_path: Path | None = None) -> None:
        self._font = font_path if font_path is not None else find_font()

    async def render(self, document: SalesDocument) -> bytes:
        return await asyncio.to_thread(self.render_now, document)

    def render_now(self, document: SalesDocument) -> bytes:
        pdf = FPDF(format="A4")
        pdf.set_auto_page_break(auto=True, margin=15)
        family = self._set_up_fonts(pdf)
        text = _Text(family, unicode=self._font is not None)
        title = "Quote" if document.kind is CounterKind.QUOTE else "Invoice"
        pdf.set_title(text(f"{title} {document.number or '(draft)'}"))
        pdf.set_author(text(document.seller.name))
        pdf.set_creator("Switchboard")
        pdf.add_page()

        pdf.set_font(family, style="B", size=18)
        pdf.cell(0, 10, text(f"{title} {document.number or '(draft)'}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(family, size=10)
        pdf.cell(
            0, 6, text(f"Status: {document.status.replace('_', ' ')}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        for label, day in document.dates:
            pdf.cell(0, 6, text(f"{label}: {day:%Y-%m-%d}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for line in document.extra:
            pdf.cell(0, 6, text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(4)

        pdf.set_font(family, style="B", size=10)
        pdf.cell(95, 6, "From")
        pdf.cell(95, 6, "Bill to", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(family, size=10)
        pdf.cell(95, 6, text(document.seller.name))
        pdf.cell(95, 6, text(document.bill_to.name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if document.bill_to.email:
            pdf.cell(95, 6, "")
            pdf.cell(95, 6, text(document.bill_to.email), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(6)

        money = document.currency
        rows = [("Description", "Qty", "Unit price", "Discount", "Tax", "Amount")]
        for item in document.lines:
            rows.append(
                (
                    text(item.description),
                    decimal_text(item.quantity),
                    format_money(item.unit_price, money),
                    f"{decimal_text(item.discount_percent)}%" if item.discount else "",
                    f"{decimal_text(item.tax_rate)}%" if item.tax_rate else "",
                    format_money(item.total, money),
                )
            )
        pdf.set_font(family, size=9)
        with pdf.table(
            rows,
            col_widths=(70, 14, 30, 18, 16, 32),
            text_align=(Align.L, Align.R, Align.R, Align.R, Align.R, Align.R),
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            headings_style=FontFace(emphasis="BOLD"),
            line_height=6,
            width=180,
        ):
            pass
        pdf.ln(4)

        pdf.set_font(family, size=10)
        totals = document.totals
        summary = [("Subtotal", totals.subtotal)]
        if totals.discount:
            summary.append(("Discount", -totals.discount))
        summary.append(("Tax", totals.tax))
        for label, amount in summary:
            _total_line(pdf, label, format_money(amount, money))
        pdf.set_font(family, style="B", size=11)
        _total_line(pdf, "Total", format_money(totals.total, money))
        if document.amount_paid is not None and document.amount_due is not None:
            pdf.set_font(family, size=10)
            _total_line(pdf, "Paid", format_money(document.amount_paid, money))
            pdf.set_font(family, style="B", size=11)
            _total_line(pdf, "Amount due", format_money(document.amount_due, money))

        if document.notes:
            pdf.ln(6)
            pdf.set_font(family, size=9)
            pdf.multi_cell(0, 5, text(document.notes))
        return bytes(pdf.output())

    def _set_up_fonts(self, pdf: FPDF) -> str:
        if self._font is None:
            return "helvetica"
        pdf.add_font(FAMILY, fname=str(self._font))
        bold = self._font.with_name(self._font.stem + "-Bold" + self._font.suffix)
        pdf.add_font(FAMILY, style="B", fname=str(bold if bold.is_file() else self._font))
        return FAMILY


class _Text:
    """Text as the chosen font can print it."""

    def __init__(self, family: str, unicode: bool) -> None:
        self._unicode = unicode

    def __call__(self, value: str) -> str:
        if self._unicode:
            return value
        return value.encode("latin-1", "replace").decode("latin-1")


def _total_line(pdf: FPDF, label: str, amount: str) -> None:
    pdf.cell(140, 6, label, align=Align.R)
    pdf.cell(40, 6, amount, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
