"""Rules for free text typed by people: names, search terms."""

from __future__ import annotations

import unicodedata

from switchboard.core.errors import InvalidInput


def single_line(value: str, field: str, max_length: int) -> str:
    """Trim and collapse white space; refuse blank, overlong or control-character text."""
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidInput.single(field, "must not be blank")
    if len(cleaned) > max_length:
        raise InvalidInput.single(field, f"must be at most {max_length} characters")
    refuse_control_characters(cleaned, field)
    return cleaned


def refuse_control_characters(value: str, field: str) -> None:
    # NUL cannot be stored in PostgreSQL text at all; the other controls are never meant.
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidInput.single(field, "must not contain control characters")


def refuse_control_characters_but_line_breaks(value: str, field: str) -> None:
    """Text over several lines: line breaks and tabs are how it is written, any other control
    character (NUL above all) is refused."""
    if any(unicodedata.category(char) == "Cc" and char not in "\n\r\t" for char in value):
        raise InvalidInput.single(field, "must not contain control characters other than line breaks")
