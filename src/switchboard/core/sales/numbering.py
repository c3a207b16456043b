"""Document number patterns such as ``INV-{yyyy}-{seq:05}``.

A pattern is literal text with placeholders: ``{yyyy}`` (year), ``{yy}`` (two-digit year),
``{mm}`` (month), and exactly one ``{seq}`` or ``{seq:0N}`` (the sequence, zero-padded to N
digits, N from 1 to 12). The sequence is per tenant and per kind of document; it restarts at 1
each calendar year when the pattern shows the year, and never otherwise, so the same number can
never come out twice from one pattern.

Numbers are taken from a counter row locked inside the transaction that issues the document:
the next issuer waits for that transaction to end, and a rolled-back issue gives its number
back. Numbers are therefore unique and gapless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from switchboard.core.errors import InvalidInput

PATTERN_MAX = 60
MAX_PAD = 12
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SEQ = re.compile(r"^seq(?::0([1-9]|1[0-2]))?$")
_DATE_PARTS = frozenset({"yyyy", "yy", "mm"})
_LITERAL = re.compile(r"^[A-Za-z0-9 ._/#-]*$")


@dataclass(frozen=True)
class NumberPattern:
    text: str

    @property
    def yearly(self) -> bool:
        """Whether the sequence restarts every year (the pattern shows the year)."""
        return "{yyyy}" in self.text or "{yy}" in self.text

    def period(self, on: date) -> str:
        """The counter a number issued on ``on`` is drawn from: the year, or one for ever."""
        return f"{on.year:04d}" if self.yearly else ""

    def render(self, seq: int, on: date) -> str:
        def part(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "yyyy":
                return f"{on.year:04d}"
            if name == "yy":
                return f"{on.year % 100:02d}"
            if name == "mm":
                return f"{on.month:02d}"
            pad = _SEQ.match(name)
            assert pad is not None
            return f"{seq:0{int(pad.group(1) or 1)}d}"

        return _PLACEHOLDER.sub(part, self.text)


def clean_pattern(text: str, field: str) -> NumberPattern:
    """A valid pattern, or every reason it is not one."""
    pattern = text.strip()
    if not pattern or len(pattern) > PATTERN_MAX:
        raise InvalidInput.single(field, f"must be 1 to {PATTERN_MAX} characters")
    names = _PLACEHOLDER.findall(pattern)
    unknown = [name for name in names if name not in _DATE_PARTS and not _SEQ.match(name)]
    if unknown:
        raise InvalidInput.single(
            field,
            f"has an unknown placeholder {{{unknown[0]}}}: "
            "use {yyyy}, {yy}, {mm}, {seq} or {seq:05}",
        )
    if sum(1 for name in names if _SEQ.match(name)) != 1:
        raise InvalidInput.single(field, "must contain exactly one {seq} placeholder, such as {seq:05}")
    literal = _PLACEHOLDER.sub("", pattern)
    if "{" in literal or "}" in literal or not _LITERAL.match(literal):
        raise InvalidInput.single(
            field, "may contain only letters, digits, spaces and . _ / # - outside its placeholders"
        )
    return NumberPattern(pattern)
