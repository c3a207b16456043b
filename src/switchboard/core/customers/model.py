"""Customers: the people and businesses a tenant's calls are about."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any
from uuid import UUID

from switchboard.core.customers.countries import COUNTRY_CODES
from switchboard.core.errors import InvalidInput, gather
from switchboard.core.identity.model import normalize_email
from switchboard.core.text import refuse_control_characters, single_line

NAME_MAX = 200
SEARCH_MAX = 100
NOTES_MAX = 10_000
ADDRESSES_MAX = 10
LABEL_MAX = 50
LINE_MAX = 200
CITY_MAX = 100
REGION_MAX = 100
POSTAL_CODE_MAX = 20
TAGS_MAX = 20
TAG_MAX = 32

_PHONE_FORMATTING = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_TAG_PUNCTUATION = frozenset("-_.")
# Line breaks and tabs are how notes are written; every other control character is refused.
_NOTES_WHITESPACE = frozenset("\n\t")


class ContactChannel(StrEnum):
    """How the customer prefers to be reached; ``none`` when they said nothing."""

    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    NONE = "none"


@dataclass(frozen=True, kw_only=True)
class Address:
    label: str | None = None  # "home", "billing", "site 2": unique within one customer
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None  # state, province, county
    postal_code: str | None = None
    country: str  # ISO 3166-1 alpha-2, upper case


ADDRESS_FIELDS = tuple(f.name for f in fields(Address))


@dataclass(frozen=True)
class Customer:
    id: UUID
    tenant_id: UUID
    name: str
    email: str | None
    phone: str | None
    created_at: datetime
    updated_at: datetime
    version: int = 1
    addresses: tuple[Address, ...] = ()
    tags: tuple[str, ...] = ()  # normalised, unique, sorted
    notes: str | None = None
    preferred_channel: ContactChannel = ContactChannel.NONE


def normalize_phone(phone: str, field: str = "phone") -> str:
    """E.164 (``+14155550123``) after dropping spaces, dots, dashes, slashes and brackets."""
    cleaned = _PHONE_FORMATTING.sub("", phone)
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not _E164.match(cleaned):
        raise InvalidInput.single(field, "must be an international number such as +14155550123")
    return cleaned


def normalize_country(value: object, field: str = "country") -> str:
    """An officially assigned ISO 3166-1 alpha-2 code, in any case, as upper case."""
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in COUNTRY_CODES:
        raise InvalidInput.single(field, "must be an ISO 3166-1 alpha-2 country code such as US or GB")
    return code


def normalize_tag(value: object, field: str = "tag") -> str:
    """Case-folded NFKC text, white space runs as ``-``: ``"VIP  Client"`` is ``vip-client``."""
    if not isinstance(value, str):
        raise InvalidInput.single(field, "must be text")
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    tag = "-".join(folded.split())
    if not tag:
        raise InvalidInput.single(field, "must not be blank")
    if len(tag) > TAG_MAX:
        raise InvalidInput.single(field, f"must be at most {TAG_MAX} characters")
    if not all(char.isalnum() or char in _TAG_PUNCTUATION for char in tag):
        raise InvalidInput.single(field, "may hold only letters, digits, '-', '_' and '.'")
    return tag


def clean_tags(value: object) -> tuple[str, ...]:
    """A set of tags: normalised, duplicates merged, sorted. ``None`` is no tags."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidInput.single("tags", "must be a list of tags")
    if len(value) > TAGS_MAX:
        raise InvalidInput.single("tags", f"must hold at most {TAGS_MAX} tags")
    tags = gather({str(i): partial(normalize_tag, item, f"tags.{i}") for i, item in enumerate(value)})
    return tuple(sorted(set(tags.values())))


def clean_notes(value: object) -> str | None:
    """Free text over several lines; blank is no notes."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput.single("notes", "must be text")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return None
    if len(text) > NOTES_MAX:
        raise InvalidInput.single("notes", f"must be at most {NOTES_MAX} characters")
    if any(unicodedata.category(char) == "Cc" and char not in _NOTES_WHITESPACE for char in text):
        raise InvalidInput.single("notes", "must not contain control characters other than line breaks")
    return text


def clean_channel(value: object) -> ContactChannel:
    if isinstance(value, str) and value in ContactChannel.__members__.values():
        return ContactChannel(value)
    choices = ", ".join(channel.value for channel in ContactChannel)
    raise InvalidInput.single("preferred_channel", f"must be one of {choices}")


def clean_addresses(value: object) -> tuple[Address, ...]:
    """Every address checked, every problem reported at once; ``None`` is no addresses."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise InvalidInput.single("addresses", "must be a list of addresses")
    if len(value) > ADDRESSES_MAX:
        raise InvalidInput.single("addresses", f"must hold at most {ADDRESSES_MAX} addresses")
    cleaned = gather({str(i): partial(_clean_address, i, item) for i, item in enumerate(value)})
    addresses = tuple(cleaned[str(i)] for i in range(len(value)))
    seen: dict[str, int] = {}
    for i, address in enumerate(addresses):
        if address.label is None:
            continue
        first = seen.setdefault(address.label.casefold(), i)
        if first != i:
            raise InvalidInput.single(f"addresses.{i}.label", f"repeats the label of address {first}")
    return addresses


def _clean_address(index: int, value: object) -> Address:
    prefix = f"addresses.{index}"
    if not isinstance(value, Mapping):
        raise InvalidInput.single(prefix, "must be an object")
    checks: dict[str, Callable[[], str | None]] = {
        "label": partial(_optional_line, value.get("label"), f"{prefix}.label", LABEL_MAX),
        "line1": partial(_required_line, value.get("line1"), f"{prefix}.line1", LINE_MAX),
        "line2": partial(_optional_line, value.get("line2"), f"{prefix}.line2", LINE_MAX),
        "city": partial(_required_line, value.get("city"), f"{prefix}.city", CITY_MAX),
        "region": partial(_optional_line, value.get("region"), f"{prefix}.region", REGION_MAX),
        "postal_code": partial(
            _optional_line, value.get("postal_code"), f"{prefix}.postal_code", POSTAL_CODE_MAX
        ),
        "country": partial(normalize_country, value.get("country"), f"{prefix}.country"),
    }
    for name in sorted(str(key) for key in value if key not in ADDRESS_FIELDS):
        checks[name] = partial(_refuse, f"{prefix}.{name}", "is not an address field")
    parts = gather(checks)
    return Address(**parts)  # type: ignore[arg-type]  # gather keeps each check's type


def _required_line(value: object, field: str, max_length: int) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidInput.single(field, "must be text")
    return single_line(value or "", field, max_length)


def _optional_line(value: object, field: str, max_length: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _required_line(value, field, max_length)


def _refuse(field: str, message: str) -> None:
    raise InvalidInput.single(field, message)


def validated(changes: Mapping[str, object]) -> dict[str, Any]:
    """Clean every present field, reporting every problem at once.

    The result holds the same keys, each value in its stored form, ready for ``replace``.
    """
    return gather({name: partial(_clean, name, value) for name, value in changes.items()})


def _clean(name: str, value: object) -> object:
    if name == "name":
        return _required_line(value, "name", NAME_MAX)
    if name in ("email", "phone"):
        if value is not None and not isinstance(value, str):
            raise InvalidInput.single(name, "must be text")
        if value is None or not value.strip():
            return None
        return normalize_email(value) if name == "email" else normalize_phone(value)
    cleaner = _CLEANERS.get(name)
    if cleaner is None:
        raise InvalidInput.single(name, "is not a customer field")
    return cleaner(value)


_CLEANERS: dict[str, Callable[[object], object]] = {
    "addresses": clean_addresses,
    "tags": clean_tags,
    "notes": clean_notes,
    "preferred_channel": clean_channel,
}


def check_reachable(customer: Customer) -> None:
    """The preferred channel needs the detail it uses: a phone for phone and sms, an email."""
    channel = customer.preferred_channel
    if channel in (ContactChannel.PHONE, ContactChannel.SMS) and customer.phone is None:
        raise InvalidInput.single("preferred_channel", f"is {channel}, but the customer has no phone number")
    if channel is ContactChannel.EMAIL and customer.email is None:
        raise InvalidInput.single("preferred_channel", "is email, but the customer has no email address")


def apply_changes(customer: Customer, changes: dict[str, Any], now: datetime) -> Customer:
    """``changes`` as ``validated`` returns them: a present key replaces, None clears."""
    return replace(customer, **changes, updated_at=now, version=customer.version + 1)


def address_fields(address: Address) -> dict[str, str | None]:
    return asdict(address)


def customer_fields(customer: Customer) -> dict[str, Any]:
    """The writable fields as JSON values: what the audit log records and webhooks carry."""
    return {
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "addresses": [address_fields(a) for a in customer.addresses],
        "tags": list(customer.tags),
        "notes": customer.notes,
        "preferred_channel": customer.preferred_channel.value,
    }


def clean_search(query: str | None) -> str | None:
    if query is None or not query.strip():
        return None
    text = query.strip()
    if len(text) > SEARCH_MAX:
        raise InvalidInput.single("q", f"must be at most {SEARCH_MAX} characters")
    refuse_control_characters(text, "q")
    return text


def clean_tag_filter(tag: str | None) -> str | None:
    """``?tag=``: normalised as stored tags are; blank means no filter."""
    if tag is None or not tag.strip():
        return None
    return normalize_tag(tag, "tag")
