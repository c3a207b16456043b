"""The built-in SendGrid plugin: its configuration, sending through the real SDK to a local stand-in
of SendGrid's API, and Event Webhook calls signed as SendGrid signs them (ECDSA P-256).

Nothing of the SDK is mocked: ``sendgrid.SendGridAPIClient`` sends over HTTP to
``SendGridStandIn``, and signatures are made with ``cryptography`` and checked by the SDK's
``EventWebhook`` helper.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pluggy
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from switchboard.core.errors import InvalidInput
from switchboard.plugins import hookspecs
from switchboard.plugins.manager import PluginCatalog, _register
from switchboard.plugins.sendgrid import API_BASE_ENV, ProviderError, SendGridConfig, SendGridPlugin
from switchboard.ports.providers import (
    Capability,
    EmailMessage,
    IncomingWebhook,
    ProviderEvent,
    WebhookRejected,
)
from tests.fakes.sendgrid_standin import SendGridStandIn


def public_key_text(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    """The public half as SendGrid shows it: base64 of its DER SubjectPublicKeyInfo, no PEM lines."""
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())  # SendGrid's, for these tests
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
API_KEY = "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"
CONFIG = {
    "api_key": API_KEY,
    "from_email": "bookings@acme-plumbing.example",
    "from_name": "Acme Plumbing",
    "event_webhook_public_key": public_key_text(SIGNING_KEY),
}
TO = "customer@example.com"


def catalog_with(plugin: object) -> PluginCatalog:
    """The catalog build_plugin_catalog() makes, with this plugin as its only built-in."""
    manager = pluggy.PluginManager("switchboard")
    manager.add_hookspecs(hookspecs)
    catalog = PluginCatalog(manager)
    _register(catalog, plugin, "sendgrid", "test")
    return catalog


@pytest.fixture
def sendgrid_api() -> Iterator[SendGridStandIn]:
    with SendGridStandIn() as standin:
        yield standin


@pytest.fixture
def catalog(sendgrid_api: SendGridStandIn) -> PluginCatalog:
    return catalog_with(SendGridPlugin(api_base=sendgrid_api.api_base))


def email_adapter(catalog: PluginCatalog, config: dict[str, Any] = CONFIG) -> Any:
    """What the provider registry does for each use: validate the stored config, build afresh."""
    return catalog.build("sendgrid", catalog.validate_config("sendgrid", config).values)


# --- the plugin and its configuration -----------------------------------------------------------


def test_the_plugin_offers_sendgrid_email_with_its_webhook_verifier(catalog: PluginCatalog):
    [info] = catalog.plugins
    assert (info.name, info.error) == ("sendgrid", None)
    description = catalog.describe("sendgrid")
    assert description is not None
    assert (description.capability, description.plugin) == (Capability.EMAIL, "sendgrid")
    spec = catalog.specs["sendgrid"]
    assert spec.secret_fields == {"api_key"}
    assert spec.verify_webhook is not None


def test_the_api_base_is_the_operators_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(API_BASE_ENV, "http://127.0.0.1:9")
    assert SendGridPlugin().api_base == "http://127.0.0.1:9"
    assert SendGridPlugin(api_base="http://127.0.0.1:10").api_base == "http://127.0.0.1:10"
    monkeypatch.delenv(API_BASE_ENV)
    assert SendGridPlugin().api_base is None
    # Nothing else lives on the plugin: no client, no tenant's configuration.
    assert vars(SendGridPlugin()) == {"api_base": None}


def test_a_configuration_is_accepted_and_its_key_kept_whole(catalog: PluginCatalog):
    validated = catalog.validate_config("sendgrid", CONFIG)
    assert validated.values == CONFIG
    assert validated.secret_fields == {"api_key"}
    minimal = {"api_key": API_KEY, "from_email": "bookings@acme-plumbing.example"}
    assert catalog.validate_config("sendgrid", minimal).values == {
        **minimal,
        "from_name": None,
        "event_webhook_public_key": None,
    }


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        ({}, {"config.api_key", "config.from_email"}),
        ({**CONFIG, "api_key": "not-a-sendgrid-key"}, {"config.api_key"}),
        ({**CONFIG, "api_key": API_KEY + "\r\nX-Injected: 1"}, {"config.api_key"}),
        ({**CONFIG, "from_email": "not an address"}, {"config.from_email"}),
        ({**CONFIG, "from_name": "Acme\r\nBcc: everyone@example.com"}, {"config.from_name"}),
        ({**CONFIG, "event_webhook_public_key": "not a key"}, {"config.event_webhook_public_key"}),
        (
            {**CONFIG, "event_webhook_public_key": public_key_text(rsa.generate_private_key(65537, 2048))},
            {"config.event_webhook_public_key"},
        ),
        (
            {**CONFIG, "event_webhook_public_key": public_key_text(ec.generate_private_key(ec.SECP384R1()))},
            {"config.event_webhook_public_key"},
        ),
        # The API host is the operator's, never a tenant's: a tenant cannot redirect the requests.
        ({**CONFIG, "api_base": "http://169.254.169.254"}, {"config.api_base"}),
    ],
    ids=[
        "empty",
        "not an SG key",
        "key with a header in it",
        "bad from email",
        "two-line from name",
        "garbage public key",
        "RSA public key",
        "P-384 public key",
        "api base",
    ],
)
def test_a_bad_configuration_is_refused_field_by_field(
    catalog: PluginCatalog, config: dict[str, str], fields: set[str]
):
    with pytest.raises(InvalidInput) as raised:
        catalog.validate_config("sendgrid", config)
    assert {error.field for error in raised.value.errors} == fields
    assert API_KEY not in str(raised.value.errors)


# --- sending ------------------------------------------------------------------------------------


async def test_a_plain_email_reaches_sendgrid_with_the_bearer_key_and_its_id_comes_back(
    catalog: PluginCatalog, sendgrid_api: SendGridStandIn
):
    message = EmailMessage(
        TO, "Your appointment", "See you at 3pm.", html="<p>See you at <b>3pm</b>.</p>", idempotency_key="k-1"
    )

    message_id = await email_adapter(catalog).send_email(message)

    [request] = sendgrid_api.requests
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("sendgrid/")
    assert request.json == {
        "from": {"email": "bookings@acme-plumbing.example", "name": "Acme Plumbing"},
        "subject": "Your appointment",
        "personalizations": [{"to": [{"email": TO}]}],
        "content": [
            {"type": "text/plain", "value": "See you at 3pm."},
            {"type": "text/html", "value": "<p>See you at <b>3pm</b>.</p>"},
        ],
        "custom_args": {"idempotency_key": "k-1"},
    }
    assert list(sendgrid_api.sent) == [message_id]


async def test_a_templated_email_sends_the_template_and_its_data(
    catalog: PluginCatalog, sendgrid_api: SendGridStandIn
):
    template_data = {
        "first_name": "Ada",
        "slots": ["9:00", "14:30"],
        "total": {"amount": 12500, "currency": "USD"},
    }
    message = EmailMessage(
        TO,
        "Your quote",
        "Your quote is ready.",
        template_id="d-0123456789abcdef0123456789abcdef",
        template_data=template_data,
        idempotency_key="quote-42",
    )

    message_id = await email_adapter(catalog).send_email(message)

    [request] = sendgrid_api.requests
    assert request.json == {
        "from": {"email": "bookings@acme-plumbing.example", "name": "Acme Plumbing"},
        "personalizations": [{"to": [{"email": TO}], "dynamic_template_data": template_data}],
        "template_id": "d-0123456789abcdef0123456789abcdef",
        "custom_args": {"idempotency_key": "quote-42"},
    }
    assert list(sendgrid_api.sent) == [message_id]


async def test_without_a_key_or_a_name_neither_is_sent(catalog: PluginCatalog, sendgrid_api: SendGridStandIn):
    config = {"api_key": API_KEY, "from_email": "bookings@acme-plumbing.example"}

    await email_adapter(catalog, config).send_email(EmailMessage(TO, "Hi", "Hello"))

    [request] = sendgrid_api.requests
    assert request.json["from"] == {"email": "bookings@acme-plumbing.example"}
    assert "custom_args" not in request.json
    assert request.json["content"] == [{"type": "text/plain", "value": "Hello"}]


async def test_each_adapter_sends_with_its_own_tenants_key(
    catalog: PluginCatalog, sendgrid_api: SendGridStandIn
):
    other_key = "SG.aaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    first = email_adapter(catalog)
    second = email_adapter(catalog, {**CONFIG, "api_key": other_key, "from_email": "hi@other.example"})

    await first.send_email(EmailMessage(TO, "one", "one"))
    await second.send_email(EmailMessage(TO, "two", "two"))
    await first.send_email(EmailMessage(TO, "three", "three"))

    assert [(r.api_key, r.json["from"]["email"], r.json["subject"]) for r in sendgrid_api.requests] == [
        (API_KEY, "bookings@acme-plumbing.example", "one"),
        (other_key, "hi@other.example", "two"),
        (API_KEY, "bookings@acme-plumbing.example", "three"),
    ]


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (403, False), (429, True), (500, True), (503, True)]
)
async def test_a_refusal_is_a_provider_error_retryable_only_when_trying_again_may_help(
    catalog: PluginCatalog, sendgrid_api: SendGridStandIn, status: int, retryable: bool
):
    sendgrid_api.fail_next(status=status)

    with pytest.raises(ProviderError) as raised:
        await email_adapter(catalog).send_email(EmailMessage(TO, "Hi", "Hello"))

    assert (raised.value.status, raised.value.retryable) == (status, retryable)
    assert API_KEY not in str(raised.value)
    assert sendgrid_api.sent == {}


async def test_sendgrids_reason_is_kept_in_the_error(catalog: PluginCatalog, sendgrid_api: SendGridStandIn):
    sendgrid_api.fail_next(status=400)

    with pytest.raises(ProviderError, match="does not match a verified Sender Identity"):
        await email_adapter(catalog).send_email(EmailMessage(TO, "Hi", "Hello"))


async def test_a_failure_then_a_retry_sends_once(catalog: PluginCatalog, sendgrid_api: SendGridStandIn):
    sendgrid_api.fail_next(status=500)
    email = email_adapter(catalog)
    message = EmailMessage(TO, "Hi", "Hello", idempotency_key="k-9")

    with pytest.raises(ProviderError):
        await email.send_email(message)
    message_id = await email.send_email(message)

    assert list(sendgrid_api.sent) == [message_id]
    assert [r.json["custom_args"] for r in sendgrid_api.requests] == [{"idempotency_key": "k-9"}] * 2


async def test_sendgrid_out_of_reach_is_a_retryable_provider_error():
    with SendGridStandIn() as sendgrid_api:
        api_base = sendgrid_api.api_base
    email = email_adapter(catalog_with(SendGridPlugin(api_base=api_base)))  # its port is closed now

    with pytest.raises(ProviderError) as raised:
        await email.send_email(EmailMessage(TO, "Hi", "Hello"))

    assert raised.value.retryable is True
    assert raised.value.status is None


async def test_a_body_holding_an_api_key_is_refused_by_the_sdk_before_sending(
    catalog: PluginCatalog, sendgrid_api: SendGridStandIn
):
    with pytest.raises(ProviderError) as raised:
        await email_adapter(catalog).send_email(EmailMessage(TO, "Oops", API_KEY))

    assert raised.value.retryable is False
    assert API_KEY not in str(raised.value)
    assert sendgrid_api.requests == []


# --- the event webhook --------------------------------------------------------------------------

EVENTS = [
    {
        "email": TO,
        "timestamp": 1_700_000_000,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "processed",
        "category": ["appointments"],
        "sg_event_id": "rbtnWrG1DVDGGGFHFyun0A==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "idempotency_key": "k-1",
    },
    {
        "email": TO,
        "timestamp": 1_700_000_004,
        "event": "delivered",
        "response": "250 OK",
        "sg_event_id": "u9QxRZ3DR0C7VqvdT0RtXg==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "idempotency_key": "k-1",
    },
]


def signed(
    events: Any = EVENTS,
    *,
    key: ec.EllipticCurvePrivateKey = SIGNING_KEY,
    at: int | None = None,
    payload: str | None = None,
) -> IncomingWebhook:
    """A call as SendGrid makes it: ECDSA (SHA-256) over timestamp + body, DER signature in base64."""
    timestamp = str(int(time.time()) if at is None else at)
    body = json.dumps(events) + "\r\n" if payload is None else payload
    signature = key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    return IncomingWebhook(
        headers={
            "content-type": "application/json",
            "x-twilio-email-event-webhook-signature": base64.b64encode(signature).decode(),
            "x-twilio-email-event-webhook-timestamp": timestamp,
        },
        body=body.encode(),
        url="https://switchboard.example.com/v1/webhooks/sendgrid/7d1c6a52-5a7e-4a0e-9a4e-0d6f1c2b3a4d",
    )


def verify(
    catalog: PluginCatalog, incoming: IncomingWebhook, config: dict[str, Any] = CONFIG
) -> list[ProviderEvent]:
    spec = catalog.specs["sendgrid"]
    assert spec.verify_webhook is not None
    return spec.verify_webhook(SendGridConfig.model_validate(config), incoming)


def test_a_signed_batch_is_one_event_each(catalog: PluginCatalog):
    events = verify(catalog, signed())

    assert events == [
        ProviderEvent(
            event_id="rbtnWrG1DVDGGGFHFyun0A==",
            type="processed",
            data=EVENTS[0],
            occurred_at=datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        ),
        ProviderEvent(
            event_id="u9QxRZ3DR0C7VqvdT0RtXg==",
            type="delivered",
            data=EVENTS[1],
            occurred_at=datetime(2023, 11, 14, 22, 13, 24, tzinfo=UTC),
        ),
    ]


def test_header_names_in_any_case_and_an_empty_batch_are_fine(catalog: PluginCatalog):
    incoming = signed([])
    headers = {
        "X-Twilio-Email-Event-Webhook-" + k.rsplit("-", 1)[1].title(): v
        for k, v in incoming.headers.items()
        if k.startswith("x-twilio")
    }
    assert verify(catalog, IncomingWebhook(headers, incoming.body, incoming.url)) == []


def test_a_timestamp_within_five_minutes_either_way_is_fresh(catalog: PluginCatalog):
    now = int(time.time())
    assert len(verify(catalog, signed(at=now - 290))) == 2
    assert len(verify(catalog, signed(at=now + 290))) == 2


def without(incoming: IncomingWebhook, header: str) -> IncomingWebhook:
    return IncomingWebhook(
        {k: v for k, v in incoming.headers.items() if k != header}, incoming.body, incoming.url
    )


def with_header(incoming: IncomingWebhook, header: str, value: str) -> IncomingWebhook:
    return IncomingWebhook({**incoming.headers, header: value}, incoming.body, incoming.url)


SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"


def tampered(incoming: IncomingWebhook) -> IncomingWebhook:
    return IncomingWebhook(incoming.headers, incoming.body.replace(b"delivered", b"bounce"), incoming.url)


def restamped(incoming: IncomingWebhook) -> IncomingWebhook:
    return with_header(incoming, TIMESTAMP, str(int(incoming.headers[TIMESTAMP]) + 1))


# Each call is made when its test runs (a timestamp made at collection would age meanwhile).
REJECTED: dict[str, tuple[Callable[[], IncomingWebhook], str]] = {
    "signed with another key": (lambda: signed(key=OTHER_KEY), "does not match"),
    "tampered payload": (lambda: tampered(signed()), "does not match"),
    "timestamp changed after signing": (lambda: restamped(signed()), "does not match"),
    "stale timestamp": (lambda: signed(at=int(time.time()) - 310), "seconds from now"),
    "timestamp in the future": (lambda: signed(at=int(time.time()) + 310), "seconds from now"),
    "no signature header": (lambda: without(signed(), SIGNATURE), "header"),
    "no timestamp header": (lambda: without(signed(), TIMESTAMP), "header"),
    "no headers": (lambda: IncomingWebhook({}, signed().body, signed().url), "header"),
    "signature not base64": (lambda: with_header(signed(), SIGNATURE, "not base64!"), "does not match"),
    "signature not DER": (lambda: with_header(signed(), SIGNATURE, "AAAA"), "does not match"),
    "timestamp not an integer": (lambda: with_header(signed(), TIMESTAMP, "1e9"), "not a Unix time"),
    "empty timestamp": (lambda: with_header(signed(), TIMESTAMP, ""), "header"),
}


@pytest.mark.parametrize(("make", "reason"), REJECTED.values(), ids=REJECTED.keys())
def test_a_call_not_provably_from_sendgrid_and_fresh_is_rejected(
    catalog: PluginCatalog, make: Callable[[], IncomingWebhook], reason: str
):
    with pytest.raises(WebhookRejected, match=reason):
        verify(catalog, make())


def test_a_call_signed_for_another_tenants_key_is_rejected(catalog: PluginCatalog):
    other_tenant = {**CONFIG, "event_webhook_public_key": public_key_text(OTHER_KEY)}
    with pytest.raises(WebhookRejected):
        verify(catalog, signed(), other_tenant)


def test_without_a_public_key_configured_every_call_is_rejected(catalog: PluginCatalog):
    config = {k: v for k, v in CONFIG.items() if k != "event_webhook_public_key"}
    with pytest.raises(WebhookRejected, match="public key"):
        verify(catalog, signed(), config)


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        '{"event": "delivered"}',
        '["delivered"]',
        '[{"event": "delivered"}]',
        '[{"sg_event_id": "x"}]',
    ],
    ids=["not JSON", "an object", "not objects", "no event id", "no event type"],
)
def test_a_signed_body_that_is_not_a_batch_of_events_is_rejected(catalog: PluginCatalog, payload: str):
    with pytest.raises(WebhookRejected):
        verify(catalog, signed(payload=payload))
