"""The rules of text messages, without storage: opt-out and opt-in keywords as carriers read them,
what a message body may hold, statuses that only move forward, and timeline entries that never
repeat what was written."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from switchboard.core.customers.timeline import TimelineKind
from switchboard.core.errors import InvalidInput
from switchboard.core.messaging.model import (
    BODY_MAX,
    Message,
    MessageDirection,
    MessageStatus,
    OptKeyword,
    SenderType,
    advances,
    clean_body,
    keyword_of,
    timeline_entry,
)


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop\n", "STOPALL", "unsubscribe", "Cancel", "END", "quit"]
)
def test_each_opt_out_keyword_alone_opts_out_whatever_its_case_and_surrounding_space(body: str):
    assert keyword_of(body) == (OptKeyword.OPT_OUT, body.strip().upper())


@pytest.mark.parametrize("body", ["START", "yes", " Unstop "])
def test_each_opt_in_keyword_alone_opts_back_in(body: str):
    assert keyword_of(body) == (OptKeyword.OPT_IN, body.strip().upper())


@pytest.mark.parametrize(
    "body",
    ["Please stop calling me", "STOP!", "stop stop", "STOPPED", "Yes please", "", "   ", "HELP", "S T O P"],
)
def test_a_keyword_inside_other_words_or_no_keyword_at_all_is_an_ordinary_message(body: str):
    assert keyword_of(body) is None


def test_a_keyword_in_full_width_letters_counts_as_the_keyword():
    # Phones may send compatibility forms; NFKC folds them to the plain letters.
    assert keyword_of("ＳＴＯＰ") == (OptKeyword.OPT_OUT, "STOP")


def test_a_body_is_trimmed_and_keeps_its_line_breaks_with_crlf_as_lf():
    assert clean_body("  Hello,\r\nsee you at 3pm  ") == "Hello,\nsee you at 3pm"


def test_a_body_of_exactly_the_maximum_length_is_accepted():
    assert len(clean_body("x" * BODY_MAX)) == BODY_MAX


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "must not be blank"),
        ("  \n ", "must not be blank"),
        ("x" * (BODY_MAX + 1), "at most 1600"),
        ("tab\there", "control characters"),
        ("nul\x00here", "control characters"),
        ("bell\x07", "control characters"),
        (None, "must be text"),
    ],
)
def test_a_bad_body_is_refused_naming_the_body_field(body: object, message: str):
    with pytest.raises(InvalidInput) as raised:
        clean_body(body)
    [error] = raised.value.errors
    assert error.field == "body"
    assert message in error.message


@pytest.mark.parametrize(
    ("current", "reported", "moves"),
    [
        (MessageStatus.QUEUED, MessageStatus.SENT, True),
        (MessageStatus.QUEUED, MessageStatus.DELIVERED, True),
        (MessageStatus.SENT, MessageStatus.DELIVERED, True),
        (MessageStatus.SENT, MessageStatus.FAILED, True),
        (MessageStatus.SENT, MessageStatus.SENT, False),
        (MessageStatus.DELIVERED, MessageStatus.SENT, False),
        (MessageStatus.DELIVERED, MessageStatus.FAILED, False),
        (MessageStatus.FAILED, MessageStatus.DELIVERED, False),
        (MessageStatus.BLOCKED, MessageStatus.SENT, False),
        (MessageStatus.RECEIVED, MessageStatus.DELIVERED, False),
    ],
)
def test_a_status_only_moves_forward_and_never_past_a_final_one(
    current: MessageStatus, reported: MessageStatus, moves: bool
):
    assert advances(current, reported) is moves


def message(direction: MessageDirection, status: MessageStatus, body: str = "My PIN is 4321") -> Message:
    now = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    outbound = direction is MessageDirection.OUTBOUND
    return Message(
        id=uuid4(),
        tenant_id=uuid4(),
        customer_id=uuid4(),
        direction=direction,
        from_number=None if outbound else "+14155550123",
        to_number="+14155550123" if outbound else "+14155550100",
        body=body,
        status=status,
        created_at=now,
        updated_at=now,
        sender_type=SenderType.USER if outbound else None,
    )


@pytest.mark.parametrize(
    ("direction", "status", "summary"),
    [
        (MessageDirection.INBOUND, MessageStatus.RECEIVED, "Text message received"),
        (MessageDirection.OUTBOUND, MessageStatus.QUEUED, "Text message sent (queued)"),
        (MessageDirection.OUTBOUND, MessageStatus.DELIVERED, "Text message sent (delivered)"),
        (MessageDirection.OUTBOUND, MessageStatus.FAILED, "Text message sent (failed)"),
        (MessageDirection.OUTBOUND, MessageStatus.BLOCKED, "Text message not sent: the number opted out"),
    ],
)
def test_a_timeline_entry_says_what_happened_and_never_repeats_the_body(
    direction: MessageDirection, status: MessageStatus, summary: str
):
    sent = message(direction, status)
    entry = timeline_entry(sent)
    assert (entry.kind, entry.summary, entry.occurred_at, entry.id) == (
        TimelineKind.MESSAGE,
        summary,
        sent.created_at,
        sent.id,
    )
    assert (entry.ref.object, entry.ref.id) == ("message", sent.id)
    assert "4321" not in entry.summary


def test_the_customer_number_is_the_recipient_of_an_outbound_text_and_the_sender_of_an_inbound_one():
    assert message(MessageDirection.OUTBOUND, MessageStatus.SENT).customer_number == "+14155550123"
    assert message(MessageDirection.INBOUND, MessageStatus.RECEIVED).customer_number == "+14155550123"
