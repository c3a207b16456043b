"""Text out of the knowledge base's documents (ports/files.py ``TextExtractor``).

PDF through pypdf, DOCX through python-docx, plain text and Markdown as UTF-8. The content was
already checked by the core (its type by content; a DOCX's declared unpacked size bounded), and
the work here is bounded as well: at most ``PDF_PAGES_MAX`` pages, and reading stops once there
is more text than the caller keeps. Parsing runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PdfReader

from switchboard.core.calls.knowledge import KnowledgeFileType, UnreadableDocument

PDF_PAGES_MAX = 2_000


class DocumentTextExtractor:
    async def extract(self, content: bytes, media_type: KnowledgeFileType, max_chars: int) -> str:
        return await asyncio.to_thread(extract_text, content, media_type, max_chars)


def extract_text(content: bytes, media_type: KnowledgeFileType, max_chars: int) -> str:
    """The document's text, paragraphs and pages separated by blank lines; at most
    ``max_chars`` + 1 characters."""
    if media_type in (KnowledgeFileType.TEXT, KnowledgeFileType.MARKDOWN):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise UnreadableDocument("the file is not valid UTF-8 text") from error
        return text.replace("\r\n", "\n")[: max_chars + 1]
    pieces = _pdf_pages(content) if media_type is KnowledgeFileType.PDF else _docx_blocks(content)
    return _joined(pieces, max_chars)


def _joined(pieces: Iterator[str], max_chars: int) -> str:
    kept: list[str] = []
    length = 0
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        kept.append(piece)
        length += len(piece) + 2
        if length > max_chars:
            break
    return "\n\n".join(kept)[: max_chars + 1]


def _pdf_pages(content: bytes) -> Iterator[str]:
    # Untrusted input reaches a parser: whatever it raises means the file cannot be read.
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("the PDF is protected by a password")
        pages = reader.pages
        count = len(pages)
    except UnreadableDocument:
        raise
    except Exception as error:
        raise UnreadableDocument("the PDF cannot be read") from error
    for number in range(min(count, PDF_PAGES_MAX)):
        try:
            yield pages[number].extract_text() or ""
        except Exception as error:
            raise UnreadableDocument(f"page {number + 1} of the PDF cannot be read") from error


def _docx_blocks(content: bytes) -> Iterator[str]:
    try:
        document = docx.Document(io.BytesIO(content))
        blocks = list(document.iter_inner_content())
    except Exception as error:
        raise UnreadableDocument("the DOCX document cannot be read") from error
    for block in blocks:
        if isinstance(block, Paragraph):
            yield block.text
        elif isinstance(block, Table):
            yield from _table_rows(block)


def _table_rows(table: Table) -> Iterator[str]:
    for row in table.rows:
        yield " | ".join(cell.text.strip() for cell in row.cells)
