"""The Twilio plugin reads its verified messaging webhooks into the core's words: an inbound text
becomes an ``InboundMessage``; a status callback a ``StatusReport`` (or nothing, for Twilio's
own intermediate steps). Events are verified first, with signatures made by the SDK itself."""

from __future__ import annotations

import pytest

from switchboard.core.messaging.model import InboundMessage, MessageStatus, StatusReport
from switchboard.core.queues.model import PermanentFailure
from switchboard.plugins.twilio import MESSAGE_EVENTS, TwilioPlugin, read_message_status
from switchboard.ports.providers import ProviderEvent
from tests.plugins.test_twilio_plugin import CONFIG, INBOUND, STATUS_CALLBACK, catalog_with, signed, verify


@pytest.fixture
def catalog():
    return catalog_with(TwilioPlugin(api_base="http://127.0.0.1:9"))


def read(event: ProviderEvent) -> list[object]:
    return list(MESSAGE_EVENTS[event.type](event))


def test_the_plugin_declares_a_reader_for_inbound_texts_and_each_status_it_reports(catalog):
    spec = catalog.specs["twilio"]
    assert set(spec.message_events) == {
        "message.received",
        "message.sent",
        "message.delivered",
        "message.read",
        "message.undelivered",
        "message.failed",
        "message.canceled",
    }


def test_a_signed_inbound_text_reads_as_an_inbound_message(catalog):
    [event] = verify(catalog, signed(INBOUND))

    assert read(event) == [
        InboundMessage(
            INBOUND["MessageSid"], from_number=INBOUND["From"], to_number=INBOUND["To"], body=INBOUND["Body"]
        )
    ]


def test_an_inbound_picture_without_text_reads_with_an_empty_body(catalog):
    [event] = verify(catalog, signed({**INBOUND, "Body": "", "NumMedia": "1"}))

    [notice] = read(event)
    assert isinstance(notice, InboundMessage)
    assert notice.body == ""


@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [
        ("sent", MessageStatus.SENT),
        ("delivered", MessageStatus.DELIVERED),
        ("read", MessageStatus.DELIVERED),
    ],
)
def test_a_signed_status_callback_reads_as_a_status_report_with_the_sender(catalog, twilio_status, status):
    params = {**STATUS_CALLBACK, "MessageStatus": twilio_status, "SmsStatus": twilio_status}
    [event] = verify(catalog, signed(params))

    assert read(event) == [
        StatusReport(params["MessageSid"], status, None, from_number=CONFIG["from_number"])
    ]


@pytest.mark.parametrize("twilio_status", ["undelivered", "failed"])
def test_a_failure_callback_carries_twilios_error_code_and_message(catalog, twilio_status):
    params = {
        **STATUS_CALLBACK,
        "MessageStatus": twilio_status,
        "SmsStatus": twilio_status,
        "ErrorCode": "30003",
        "ErrorMessage": "Unreachable destination handset",
    }
    [event] = verify(catalog, signed(params))

    [report] = read(event)
    assert isinstance(report, StatusReport)
    assert report.status is MessageStatus.FAILED
    assert report.error == f"Twilio: {twilio_status}, error 30003: Unreachable destination handset"


@pytest.mark.parametrize("twilio_status", ["queued", "accepted", "sending", "scheduled"])
def test_twilios_intermediate_steps_tell_the_core_nothing(catalog, twilio_status):
    params = {**STATUS_CALLBACK, "MessageStatus": twilio_status, "SmsStatus": twilio_status}
    [event] = verify(catalog, signed(params))

    assert read_message_status(event) == []
    assert event.type not in MESSAGE_EVENTS  # no handler is even looked for


def test_a_verified_event_without_the_fields_it_needs_is_a_permanent_failure():
    event = ProviderEvent(
        "SM1", "message.received", {"MessageSid": "SM1", "To": "+14155550100", "Body": "hi"}
    )
    with pytest.raises(PermanentFailure, match="From"):
        read(event)
    repeated = ProviderEvent(
        "SM1:sent", "message.sent", {"MessageSid": ["SM1", "SM2"], "MessageStatus": "sent"}
    )
    with pytest.raises(PermanentFailure, match="MessageSid"):
        read(repeated)
