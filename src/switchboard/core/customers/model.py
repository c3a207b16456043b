"""Customers: the people and businesses a tenant's calls are about."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from uuid import UUID

from switchboard.core.errors import InvalidInput, gather
from switchboard.core.identity.model import normalize_email
from switchboard.core.text import refuse_control_characters, single_line

NAME_MAX = 200
SEARCH_MAX = 100

_PHONE_FORMATTING = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


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


def normalize_phone(phone: str, field: str = "phone") -> str:
    """E.164 (``+14155550123``) after dropping spaces, dots, dashes, slashes and brackets."""
    cleaned = _PHONE_FORMATTING.sub("", phone)
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not _E164.match(cleaned):
        raise InvalidInput.single(field, "must be an international number such as +14155550123")
    return cleaned


def validated(fields: dict[str, str | None]) -> dict[str, str | None]:
    """Clean every present field, reporting every problem at once."""
    return gather({name: partial(_clean, name, value) for name, value in fields.items()})


def _clean(name: str, value: str | None) -> str | None:
    if name == "name":
        return single_line(value or "", "name", NAME_MAX)
    if value is None or not value.strip():
        return None
    if name == "email":
        return normalize_email(value)
    if name == "phone":
        return normalize_phone(value)
    raise InvalidInput.single(name, "is not a customer field")


def apply_changes(customer: Customer, changes: dict[str, str | None], now: datetime) -> Customer:
    """``changes`` as ``validated`` returns them: a present key replaces, None clears."""
    return replace(
        customer,
        name=changes.get("name") or customer.name,
        email=changes.get("email", customer.email),
        phone=changes.get("phone", customer.phone),
        updated_at=now,
        version=customer.version + 1,
    )


def clean_search(query: str | None) -> str | None:
    if query is None or not query.strip():
        return None
    text = query.strip()
    if len(text) > SEARCH_MAX:
        raise InvalidInput.single("q", f"must be at most {SEARCH_MAX} characters")
    refuse_control_characters(text, "q")
    return text
