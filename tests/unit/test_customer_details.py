"""Customer details in the core: addresses, tags, notes and the preferred contact channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.core.customers.countries import COUNTRY_CODES
from switchboard.core.customers.model import (
    ADDRESSES_MAX,
    NOTES_MAX,
    TAG_MAX,
    TAGS_MAX,
    Address,
    ContactChannel,
    Customer,
    apply_changes,
    check_reachable,
    clean_addresses,
    clean_notes,
    clean_tag_filter,
    clean_tags,
    customer_fields,
    normalize_country,
    normalize_tag,
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


def fields_of(raised: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [error.field for error in raised.value.errors]


# --- countries ------------------------------------------------------------------------------------


def test_the_country_list_is_exactly_iso_3166_1_alpha_2_as_pycountry_ships_it():
    assert {country.alpha_2 for country in pycountry.countries} == COUNTRY_CODES


@pytest.mark.parametrize(("written", "code"), [("GB", "GB"), ("us", "US"), (" de ", "DE"), ("Fr", "FR")])
def test_country_codes_are_accepted_in_any_case_and_stored_upper_case(written, code):
    assert normalize_country(written) == code


@pytest.mark.parametrize("bad", ["UK", "EU", "XX", "ZZ", "USA", "U", "", "  ", "1A", "ＵＳ", None, 12])
def test_anything_but_an_assigned_alpha_2_code_is_refused(bad):
    with pytest.raises(InvalidInput) as raised:
        normalize_country(bad, "addresses.0.country")
    assert fields_of(raised) == ["addresses.0.country"]


# --- addresses ------------------------------------------------------------------------------------


def test_an_address_is_cleaned_field_by_field():
    [address] = clean_addresses(
        [
            {
                "label": "  Head   office ",
                "line1": " 1  Main Street ",
                "line2": "   ",
                "city": "Springfield",
                "region": None,
                "postal_code": " 12345 ",
                "country": "us",
            }
        ]
    )

    assert address == Address(
        label="Head office", line1="1 Main Street", city="Springfield", postal_code="12345", country="US"
    )


def test_an_address_needs_line1_city_and_country_and_says_so_for_each():
    with pytest.raises(InvalidInput) as raised:
        clean_addresses([{"label": "Home"}])
    assert fields_of(raised) == ["addresses.0.line1", "addresses.0.city", "addresses.0.country"]


def test_problems_in_several_addresses_are_all_reported_with_their_positions():
    good = {"line1": "1 Main St", "city": "Springfield", "country": "US"}
    with pytest.raises(InvalidInput) as raised:
        clean_addresses([good, good | {"country": "XX"}, good | {"city": " ", "street": "?"}])
    assert fields_of(raised) == ["addresses.1.country", "addresses.2.city", "addresses.2.street"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("label", "x" * 51),
        ("line1", "x" * 201),
        ("line2", "x" * 201),
        ("city", "x" * 101),
        ("region", "x" * 101),
        ("postal_code", "x" * 21),
        ("line1", "Main\u0000Street"),
        ("city", 42),
    ],
)
def test_overlong_or_malformed_address_text_is_refused(field, value):
    address = {"line1": "1 Main St", "city": "Springfield", "country": "US"} | {field: value}
    with pytest.raises(InvalidInput) as raised:
        clean_addresses([address])
    assert fields_of(raised) == [f"addresses.0.{field}"]


def test_two_addresses_may_not_share_a_label_whatever_its_case():
    address = {"line1": "1 Main St", "city": "Springfield", "country": "US"}
    with pytest.raises(InvalidInput) as raised:
        clean_addresses([address | {"label": "Home"}, address, address | {"label": "HOME"}])
    assert fields_of(raised) == ["addresses.2.label"]


def test_the_number_of_addresses_is_bounded():
    address = {"line1": "1 Main St", "city": "Springfield", "country": "US"}
    assert len(clean_addresses([address] * ADDRESSES_MAX)) == ADDRESSES_MAX
    with pytest.raises(InvalidInput) as raised:
        clean_addresses([address] * (ADDRESSES_MAX + 1))
    assert fields_of(raised) == ["addresses"]


@pytest.mark.parametrize("bad", ["1 Main St", {"line1": "x"}, 7, [["1 Main St"]]])
def test_addresses_that_are_not_a_list_of_objects_are_refused(bad):
    with pytest.raises(InvalidInput):
        clean_addresses(bad)


def test_no_addresses_is_an_empty_list():
    assert clean_addresses(None) == ()
    assert clean_addresses([]) == ()


# --- tags -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "tag"),
    [
        ("VIP", "vip"),
        ("  Late   Payer ", "late-payer"),
        ("Straße", "strasse"),
        ("ＶＩＰ", "vip"),  # full-width letters
        ("Émigré", "émigré"),
        ("q3_2026.lead", "q3_2026.lead"),
        ("x" * TAG_MAX, "x" * TAG_MAX),
    ],
)
def test_tags_are_normalised(written, tag):
    assert normalize_tag(written) == tag


@pytest.mark.parametrize(
    "bad", ["", "   ", "x" * (TAG_MAX + 1), "a/b", "a,b", "#vip", "🙂", "a\u0000b", 5, None]
)
def test_tags_that_are_blank_overlong_or_punctuated_are_refused(bad):
    with pytest.raises(InvalidInput):
        normalize_tag(bad)


def test_a_tag_list_becomes_a_sorted_set():
    assert clean_tags(["vip", "VIP", "Late payer", "late-payer", "b2b"]) == ("b2b", "late-payer", "vip")
    assert clean_tags(None) == ()


def test_the_number_of_tags_is_bounded_and_each_bad_tag_is_named():
    assert len(clean_tags([f"t{i}" for i in range(TAGS_MAX)])) == TAGS_MAX
    with pytest.raises(InvalidInput):
        clean_tags([f"t{i}" for i in range(TAGS_MAX + 1)])
    with pytest.raises(InvalidInput) as raised:
        clean_tags(["ok", "not ok!", "", "fine"])
    assert fields_of(raised) == ["tags.1", "tags.2"]


def test_a_single_string_is_not_a_tag_list():
    with pytest.raises(InvalidInput) as raised:
        clean_tags("vip")
    assert fields_of(raised) == ["tags"]


def test_a_tag_filter_is_normalised_like_tags_and_blank_means_none():
    assert clean_tag_filter(" VIP ") == "vip"
    assert clean_tag_filter("   ") is None
    assert clean_tag_filter(None) is None
    with pytest.raises(InvalidInput) as raised:
        clean_tag_filter("a/b")
    assert fields_of(raised) == ["tag"]


@given(st.text(max_size=40))
def test_normalising_a_tag_twice_changes_nothing(text):
    try:
        once = normalize_tag(text)
    except InvalidInput:
        return
    assert normalize_tag(once) == once


# --- notes ----------------------------------------------------------------------------------------


def test_notes_keep_their_lines_with_unix_line_ends_and_lose_outer_blank_space():
    assert clean_notes("  First line\r\n\tindented\rlast  \n") == "First line\n\tindented\nlast"


def test_blank_notes_are_no_notes():
    assert clean_notes("  \n\t ") is None
    assert clean_notes(None) is None


def test_notes_are_bounded_and_refuse_control_characters():
    assert clean_notes("x" * NOTES_MAX) == "x" * NOTES_MAX
    for bad in ("x" * (NOTES_MAX + 1), "bell\u0007", "nul\u0000", 42):
        with pytest.raises(InvalidInput) as raised:
            clean_notes(bad)
        assert fields_of(raised) == ["notes"]


# --- preferred channel ------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["phone", "sms", "email", "none"])
def test_each_channel_is_accepted(channel):
    assert validated({"preferred_channel": channel}) == {"preferred_channel": ContactChannel(channel)}


@pytest.mark.parametrize("bad", ["fax", "SMS", "", None, 1])
def test_an_unknown_channel_is_refused(bad):
    with pytest.raises(InvalidInput) as raised:
        validated({"preferred_channel": bad})
    assert fields_of(raised) == ["preferred_channel"]


@pytest.mark.parametrize(
    ("channel", "missing"),
    [(ContactChannel.PHONE, "phone"), (ContactChannel.SMS, "phone"), (ContactChannel.EMAIL, "email")],
)
def test_a_preferred_channel_needs_the_detail_it_uses(channel, missing):
    check_reachable(a_customer(preferred_channel=channel))
    with pytest.raises(InvalidInput) as raised:
        check_reachable(a_customer(preferred_channel=channel, **{missing: None}))
    assert fields_of(raised) == ["preferred_channel"]


def test_no_preferred_channel_needs_nothing():
    check_reachable(a_customer(email=None, phone=None, preferred_channel=ContactChannel.NONE))


# --- changes as a whole -----------------------------------------------------------------------------


def test_every_bad_detail_is_reported_at_once_beside_the_old_fields():
    with pytest.raises(InvalidInput) as raised:
        validated(
            {
                "name": " ",
                "addresses": [{"line1": "x", "city": "y", "country": "QQ"}],
                "tags": ["bad tag!"],
                "notes": "\u0007",
                "preferred_channel": "pigeon",
            }
        )
    assert sorted(fields_of(raised)) == [
        "addresses.0.country",
        "name",
        "notes",
        "preferred_channel",
        "tags.0",
    ]


def test_an_unknown_field_is_refused():
    with pytest.raises(InvalidInput) as raised:
        validated({"birthday": "1906-12-09"})
    assert fields_of(raised) == ["birthday"]


def test_changes_replace_only_the_details_sent_and_null_clears_them():
    customer = a_customer(tags=("vip",), notes="Old note", preferred_channel=ContactChannel.SMS)
    later = NOW + timedelta(minutes=1)

    changed = apply_changes(customer, validated({"notes": None, "tags": ["b2b", "VIP"]}), later)

    assert changed == replace(customer, notes=None, tags=("b2b", "vip"), updated_at=later, version=2)


def test_the_recorded_fields_are_json_values_of_every_writable_field():
    customer = a_customer(
        addresses=(Address(line1="1 Main St", city="Springfield", country="US"),),
        tags=("vip",),
        notes="n",
        preferred_channel=ContactChannel.EMAIL,
    )

    assert customer_fields(customer) == {
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "phone": "+14155550100",
        "addresses": [
            {
                "label": None,
                "line1": "1 Main St",
                "line2": None,
                "city": "Springfield",
                "region": None,
                "postal_code": None,
                "country": "US",
            }
        ],
        "tags": ["vip"],
        "notes": "n",
        "preferred_channel": "email",
    }
