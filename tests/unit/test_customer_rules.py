from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from switchboard.core.customers.model import (
    Customer,
    apply_changes,
    clean_search,
    normalize_phone,
    validated,
)
from switchboard.core.errors import InvalidInput

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def a_customer(**overrides: object) -> Customer:
    fields = dict(
        id=uuid4(),
        tenant_id=uuid4(),
        name="Grace Hopper",
        email="grace@example.com",
        phone="+14155550100",
        created_at=NOW,
        updated_at=NOW,
    )
    return Customer(**(fields | overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("+1 (415) 555-0100", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+49.30.901820", "+4930901820"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(written, normalised):
    assert normalize_phone(written) == normalised


@pytest.mark.parametrize(
    "bad", ["4155550100", "+0123456789", "+1 415 CALL NOW", "+12345", "+1234567890123456"]
)
def test_phone_numbers_that_are_not_international_are_refused(bad):
    with pytest.raises(InvalidInput) as raised:
        normalize_phone(bad)
    assert raised.value.errors[0].field == "phone"


def test_validation_reports_every_bad_field_at_once():
    with pytest.raises(InvalidInput) as raised:
        validated({"name": "  ", "email": "not-an-email", "phone": "12"})
    assert sorted(e.field for e in raised.value.errors) == ["email", "name", "phone"]


def test_validation_cleans_names_emails_and_phones():
    cleaned = validated(
        {"name": "  Grace   Hopper ", "email": " Grace@Example.COM ", "phone": "+1 415 555 0100"}
    )
    assert cleaned == {"name": "Grace Hopper", "email": "grace@example.com", "phone": "+14155550100"}


def test_blank_email_or_phone_means_none():
    assert validated({"email": "  ", "phone": ""}) == {"email": None, "phone": None}


def test_changes_replace_only_the_fields_sent_and_bump_the_version():
    customer = a_customer()
    later = NOW + timedelta(minutes=5)

    changed = apply_changes(customer, {"email": None}, later)

    assert (changed.name, changed.email, changed.phone) == ("Grace Hopper", None, "+14155550100")
    assert changed.version == customer.version + 1
    assert changed.updated_at == later
    assert changed.created_at == NOW


def test_search_text_is_trimmed_and_bounded():
    assert clean_search("  grace ") == "grace"
    assert clean_search("   ") is None
    with pytest.raises(InvalidInput):
        clean_search("x" * 101)
