"""The rules by which a platform's message changes a call: forward-only status, ENDED final, the
end-of-call report authoritative, repeats and late messages changing nothing, costs summed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from switchboard.core.calls.calls import check_e164, merge_message, merge_transcripts, reported_status
from switchboard.core.calls.model import (
    CallAnalysis,
    CallCost,
    CallDirection,
    CallMessage,
    CallMessageKind,
    CallStatus,
    CostComponent,
    Sentiment,
    Speaker,
    TranscriptEntry,
)
from switchboard.core.calls.records import Call, CallFilter, timeline_entry
from switchboard.core.errors import InvalidInput

NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
STARTED = NOW - timedelta(minutes=3)


def a_call(**fields: object) -> Call:
    base = Call(
        id=uuid4(),
        tenant_id=uuid4(),
        integration_id=uuid4(),
        provider_call_id="pc_1",
        direction=CallDirection.INBOUND,
        status=CallStatus.RINGING,
        created_at=NOW - timedelta(minutes=5),
        updated_at=NOW - timedelta(minutes=5),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def status(reported: CallStatus, **fields: object) -> CallMessage:
    return CallMessage(CallMessageKind.STATUS, "pc_1", status=reported, **fields)  # type: ignore[arg-type]


def line(text: str, at: float, speaker: Speaker = Speaker.CUSTOMER) -> TranscriptEntry:
    return TranscriptEntry(speaker, text, at)


REPORT = CallMessage(
    CallMessageKind.ENDED,
    "pc_1",
    ended_reason="assistant-ended-call",
    started_at=STARTED,
    ended_at=STARTED + timedelta(seconds=61, milliseconds=600),
    transcript=(line("Hello", 0.5, Speaker.AGENT), line("Hi", 1.0)),
    analysis=CallAnalysis("Asked for a quote", {"quote": True}, False, Sentiment.NEUTRAL),
    cost=CallCost(
        "USD",
        {
            CostComponent.TRANSPORT: 8_000,
            CostComponent.SPEECH_TO_TEXT: 1_100,
            CostComponent.MODEL: 2_300,
            CostComponent.TEXT_TO_SPEECH: 4_400,
            CostComponent.PLATFORM: 5_000,
        },
    ),
    recording_url="https://recordings.example/1.wav",
)


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (CallStatus.RINGING, CallStatus.IN_PROGRESS, CallStatus.IN_PROGRESS),
        (CallStatus.IN_PROGRESS, CallStatus.RINGING, CallStatus.IN_PROGRESS),
        (CallStatus.FORWARDING, CallStatus.IN_PROGRESS, CallStatus.FORWARDING),
        (CallStatus.ENDED, CallStatus.IN_PROGRESS, CallStatus.ENDED),
        (CallStatus.SCHEDULED, CallStatus.QUEUED, CallStatus.QUEUED),
        (CallStatus.QUEUED, CallStatus.ENDED, CallStatus.ENDED),
    ],
)
def test_a_status_only_ever_moves_forward(current: CallStatus, reported: CallStatus, expected: CallStatus):
    assert merge_message(a_call(status=current), status(reported), NOW).status is expected


def test_a_message_that_adds_nothing_returns_the_very_same_call():
    call = a_call(status=CallStatus.IN_PROGRESS, started_at=STARTED)
    assert merge_message(call, status(CallStatus.IN_PROGRESS), NOW) is call
    assert merge_message(call, status(CallStatus.RINGING), NOW) is call


def test_a_change_bumps_the_version_and_the_update_time_once():
    call = a_call()
    changed = merge_message(call, status(CallStatus.IN_PROGRESS), NOW)
    assert changed.version == call.version + 1
    assert changed.updated_at == NOW
    assert changed.started_at == NOW  # the platform gave no time: the moment it said so


def test_the_end_of_call_report_ends_the_call_with_everything_it_carries():
    ended = merge_message(a_call(status=CallStatus.IN_PROGRESS, started_at=NOW), REPORT, NOW)
    assert ended.status is CallStatus.ENDED
    assert ended.started_at == STARTED  # the platform's own time replaces the guessed one
    assert ended.duration_seconds == 62
    assert ended.transcript == REPORT.transcript
    assert ended.summary == "Asked for a quote"
    assert ended.structured_data == {"quote": True}
    assert ended.success is False
    assert ended.sentiment is Sentiment.NEUTRAL
    assert ended.recording_url == "https://recordings.example/1.wav"
    assert ended.ended_reason == "assistant-ended-call"


def test_the_costs_total_is_the_sum_of_its_components():
    assert REPORT.cost is not None
    assert REPORT.cost.total == 8_000 + 1_100 + 2_300 + 4_400 + 5_000
    assert CallCost("USD").total == 0


def test_a_repeated_report_changes_nothing():
    ended = merge_message(a_call(), REPORT, NOW)
    assert merge_message(ended, REPORT, NOW + timedelta(minutes=1)) is ended


def test_a_late_live_line_after_the_end_is_ignored():
    ended = merge_message(a_call(), REPORT, NOW)
    late = CallMessage(CallMessageKind.TRANSCRIPT, "pc_1", transcript=(line("one more thing", 70.0),))
    assert merge_message(ended, late, NOW) is ended


def test_a_status_after_the_report_fills_nothing_the_report_gave():
    ended = merge_message(a_call(), REPORT, NOW)
    late = status(CallStatus.ENDED, ended_reason="silence-timed-out", ended_at=NOW)
    assert merge_message(ended, late, NOW) is ended


def test_the_report_after_an_ended_status_replaces_what_the_status_guessed():
    ended_by_status = merge_message(a_call(), status(CallStatus.ENDED, ended_reason="hangup"), NOW)
    assert ended_by_status.ended_at == NOW
    reported = merge_message(ended_by_status, REPORT, NOW)
    assert reported.ended_reason == "assistant-ended-call"
    assert reported.ended_at == REPORT.ended_at
    assert reported.cost == REPORT.cost


def test_live_lines_merge_once_each_in_call_order():
    merged = merge_transcripts((line("b", 2.0), line("a", 1.0)), (line("a", 1.0), line("c", 3.0)))
    assert [e.text for e in merged] == ["a", "b", "c"]


def test_each_kind_implies_a_status_when_the_message_names_none():
    assert reported_status(CallMessage(CallMessageKind.ASSISTANT_REQUEST, "x")) is CallStatus.RINGING
    assert reported_status(CallMessage(CallMessageKind.TOOL_CALLS, "x")) is CallStatus.IN_PROGRESS
    assert reported_status(CallMessage(CallMessageKind.TRANSCRIPT, "x")) is CallStatus.IN_PROGRESS
    assert (
        reported_status(CallMessage(CallMessageKind.ENDED, "x", status=CallStatus.RINGING))
        is CallStatus.ENDED
    )
    assert reported_status(CallMessage(CallMessageKind.OTHER, "x")) is None


def test_numbers_already_known_are_not_overwritten_by_a_later_message():
    call = a_call(customer_number="+14155550123")
    changed = merge_message(call, status(CallStatus.RINGING, customer_number="+14155550999"), NOW)
    assert changed is call


@pytest.mark.parametrize("number", ["+14155550123", "+442079460000", "+4930123456"])
def test_e164_numbers_are_accepted(number: str):
    assert check_e164(number) == number


@pytest.mark.parametrize(
    "number", ["14155550123", "+0123456789", "+1 415 555 0123", "+1234", "+1234567890123456"]
)
def test_numbers_that_are_not_e164_are_refused(number: str):
    with pytest.raises(InvalidInput):
        check_e164(number)


def test_a_filter_leaves_out_calls_without_a_known_duration_when_asked_for_a_minimum():
    unfinished = a_call()
    finished = merge_message(a_call(), REPORT, NOW)
    assert not CallFilter(min_duration_seconds=0).matches(unfinished)
    assert CallFilter(min_duration_seconds=62).matches(finished)
    assert not CallFilter(min_duration_seconds=63).matches(finished)


def test_a_call_on_the_timeline_reads_as_its_direction_and_length_once_ended():
    assert timeline_entry(a_call()).summary == "Inbound call (ringing)"
    ended = merge_message(a_call(direction=CallDirection.OUTBOUND), REPORT, NOW)
    assert timeline_entry(ended).summary == "Outbound call (1:02)"
