"""Real small documents for the knowledge base tests: PDFs made with fpdf2, DOCX files made with
python-docx, and ZIP archives made with zipfile (one of them claiming a huge unpacked size)."""

from __future__ import annotations

import io
import struct
import zipfile

import docx
from fpdf import FPDF

CENTRAL_DIRECTORY = b"PK\x01\x02"
LOCAL_HEADER = b"PK\x03\x04"


def pdf_bytes(*pages: str) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages or ("",):
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def docx_bytes(*paragraphs: str, table: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def with_declared_size(archive: bytes, entry: str, size: int) -> bytes:
    """The archive with ``entry``'s uncompressed size rewritten in both of its headers: a zip
    bomb's lie, with none of its bulk."""
    data = bytearray(archive)
    name = entry.encode()
    for signature, size_at, name_length_at, name_at in (
        (CENTRAL_DIRECTORY, 24, 28, 46),
        (LOCAL_HEADER, 22, 26, 30),
    ):
        start = 0
        while (start := data.find(signature, start)) != -1:
            (name_length,) = struct.unpack_from("<H", data, start + name_length_at)
            if bytes(data[start + name_at : start + name_at + name_length]) == name:
                struct.pack_into("<I", data, start + size_at, size)
            start += 4
    return bytes(data)
