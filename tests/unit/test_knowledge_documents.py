"""What an uploaded document is, decided by its content, and the text read out of it: real PDFs
(fpdf2), real DOCX files (python-docx), text, Markdown, ZIP archives that are not documents, a
renamed program, an empty file and a ZIP entry claiming a huge unpacked size."""

from __future__ import annotations

import hashlib

import pytest

from switchboard.adapters.documents.text import DocumentTextExtractor, extract_text
from switchboard.core.calls.knowledge import (
    DOCX_UNPACKED_MAX,
    TEXT_MAX_CHARS,
    EmptyFile,
    FileTooLarge,
    KnowledgeFileType,
    UnreadableDocument,
    UnsupportedFileType,
    bounded_text,
    clean_name,
    detect_type,
    inspect_upload,
)
from tests.knowledge_samples import docx_bytes, pdf_bytes, with_declared_size, zip_bytes

LIMIT = 10 * 1024 * 1024
PDF = KnowledgeFileType.PDF
DOCX = KnowledgeFileType.DOCX
TEXT = KnowledgeFileType.TEXT
MARKDOWN = KnowledgeFileType.MARKDOWN
WINDOWS_PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(200)


# --- deciding the type ----------------------------------------------------------------------------


def test_a_pdf_is_recognised_by_its_signature_whatever_its_name():
    content = pdf_bytes("Opening hours: 9 to 5")

    for name in ("hours.pdf", "hours", "HOURS.PDF", None):
        inspected = inspect_upload(name, content, LIMIT)
        assert inspected.media_type is PDF

    assert inspected.size_bytes == len(content)
    assert inspected.sha256 == hashlib.sha256(content).hexdigest()


def test_a_docx_is_a_zip_holding_word_document_xml():
    inspected = inspect_upload("policy.docx", docx_bytes("Refunds within 30 days"), LIMIT)

    assert inspected.media_type is DOCX
    assert inspected.name == "policy.docx"


def test_utf8_text_is_plain_text_unless_its_name_says_markdown():
    content = "# Prices\n\n- Check-up: 50 €\n".encode()

    assert inspect_upload("prices.txt", content, LIMIT).media_type is TEXT
    assert inspect_upload("prices", content, LIMIT).media_type is TEXT
    assert inspect_upload("prices.csv", content, LIMIT).media_type is TEXT
    assert inspect_upload("prices.md", content, LIMIT).media_type is MARKDOWN
    assert inspect_upload("prices.Markdown", content, LIMIT).media_type is MARKDOWN


def test_a_name_claiming_pdf_for_text_content_is_refused_naming_what_the_content_is():
    with pytest.raises(UnsupportedFileType) as refused:
        inspect_upload("contract.pdf", b"just some words", LIMIT)

    assert refused.value.detected_type == "text/plain"
    assert "application/pdf" in refused.value.detail
    assert "text/plain" in refused.value.detail


@pytest.mark.parametrize(
    ("name", "content", "detected"),
    [
        ("notes.txt", pdf_bytes("x"), "application/pdf"),
        ("notes.md", docx_bytes("x"), DOCX.value),
        ("manual.docx", pdf_bytes("x"), "application/pdf"),
        ("manual.pdf", docx_bytes("x"), DOCX.value),
    ],
)
def test_a_document_of_one_accepted_type_named_as_another_is_refused(name, content, detected):
    with pytest.raises(UnsupportedFileType) as refused:
        inspect_upload(name, content, LIMIT)

    assert refused.value.detected_type == detected


@pytest.mark.parametrize("name", ["setup.exe", "manual.pdf", "manual.txt", "manual"])
def test_a_program_is_refused_under_any_name(name):
    with pytest.raises(UnsupportedFileType) as refused:
        inspect_upload(name, WINDOWS_PROGRAM, LIMIT)

    assert refused.value.detected_type == "application/x-msdownload"


def test_a_zip_archive_that_is_not_a_docx_is_refused_as_a_zip():
    archive = zip_bytes({"word/notes.txt": b"hello", "[Content_Types].xml": b"<Types/>"})

    with pytest.raises(UnsupportedFileType) as refused:
        inspect_upload("notes.docx", archive, LIMIT)

    assert refused.value.detected_type == "application/zip"


def test_binary_content_that_is_not_utf8_is_refused_as_octet_stream():
    latin1 = "Préférences: crème brûlée".encode("latin-1")

    with pytest.raises(UnsupportedFileType) as refused:
        inspect_upload("menu.txt", latin1, LIMIT)

    assert refused.value.detected_type == "application/octet-stream"


def test_text_with_a_nul_byte_is_not_text():
    assert detect_type(b"looks like text\x00but is not") == "application/octet-stream"


def test_an_empty_file_is_refused():
    with pytest.raises(EmptyFile):
        inspect_upload("empty.txt", b"", LIMIT)


def test_a_file_over_the_limit_is_refused_before_it_is_looked_at():
    with pytest.raises(FileTooLarge):
        inspect_upload("big.txt", b"a" * 1025, 1024)

    assert inspect_upload("fits.txt", b"a" * 1024, 1024).size_bytes == 1024


def test_a_docx_whose_entry_claims_a_huge_unpacked_size_is_refused_without_unpacking_it():
    bomb = with_declared_size(docx_bytes("tiny"), "word/document.xml", DOCX_UNPACKED_MAX + 1)

    with pytest.raises(UnreadableDocument) as refused:
        inspect_upload("bomb.docx", bomb, LIMIT)

    assert "unpack" in refused.value.detail


def test_a_truncated_zip_is_unreadable():
    with pytest.raises(UnreadableDocument):
        detect_type(docx_bytes("cut short")[:200])


def test_a_name_keeps_only_its_last_part_without_control_characters():
    assert clean_name("../../etc/passwd.txt", TEXT) == "passwd.txt"
    assert clean_name("C:\\Users\\ada\\menu.md", MARKDOWN) == "menu.md"
    assert clean_name("bad\x00na\x1bme.pdf", PDF) == "badname.pdf"
    assert clean_name(None, DOCX) == "document.docx"
    assert clean_name("..", TEXT) == "document.txt"
    assert len(clean_name("a" * 400 + ".txt", TEXT)) == 255


# --- reading the text -----------------------------------------------------------------------------


async def test_the_text_of_a_pdf_is_read_page_by_page():
    content = pdf_bytes("Opening hours: nine to five.", "Parking is behind the building.")

    text = await DocumentTextExtractor().extract(content, PDF, TEXT_MAX_CHARS)

    assert "Opening hours: nine to five." in text
    assert "Parking is behind the building." in text
    assert text.index("Opening") < text.index("Parking")


async def test_the_text_of_a_docx_keeps_paragraphs_and_tables_in_order():
    content = docx_bytes(
        "Price list", "All prices include tax.", table=[["Check-up", "50"], ["Filling", "90"]]
    )

    text = await DocumentTextExtractor().extract(content, DOCX, TEXT_MAX_CHARS)

    assert text == "Price list\n\nAll prices include tax.\n\nCheck-up | 50\n\nFilling | 90"


def test_text_and_markdown_are_decoded_as_utf8_without_a_byte_order_mark():
    content = "\ufeff# Menü\r\nCrème brûlée\r\n".encode()

    assert extract_text(content, MARKDOWN, TEXT_MAX_CHARS) == "# Menü\nCrème brûlée\n"


def test_extraction_stops_one_character_past_what_is_kept():
    extracted = extract_text(("word " * 1000).encode(), TEXT, 100)

    assert extracted == ("word " * 1000)[:101]


def test_the_kept_text_is_cut_at_its_maximum_and_says_so():
    assert bounded_text("x" * TEXT_MAX_CHARS) == ("x" * TEXT_MAX_CHARS, False)
    assert bounded_text("x" * (TEXT_MAX_CHARS + 1)) == ("x" * TEXT_MAX_CHARS, True)
    assert bounded_text("nul\x00gone") == ("nulgone", False)


def test_a_pdf_whose_body_is_garbage_is_unreadable():
    with pytest.raises(UnreadableDocument):
        extract_text(b"%PDF-1.7\nthis is not a pdf at all\n", PDF, TEXT_MAX_CHARS)


def test_a_docx_whose_document_part_is_not_xml_is_unreadable():
    broken = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"not xml"})

    assert detect_type(broken) == DOCX.value
    with pytest.raises(UnreadableDocument):
        extract_text(broken, DOCX, TEXT_MAX_CHARS)
