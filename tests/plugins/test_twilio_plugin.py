"""The built-in Twilio plugin: its configuration, sending through the real SDK to a local stand-in
of Twilio's API, and status callbacks and inbound messages signed with the SDK's own validator.

Nothing of the SDK is mocked: ``twilio.rest.Client`` sends over HTTP to ``TwilioStandIn``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pluggy
import pytest
from twilio.request_validator import RequestValidator

from switchboard.core.errors import InvalidInput
from switchboard.plugins import hookspecs
from switchboard.plugins.manager import PluginCatalog, _register
from switchboard.plugins.twilio import API_BASE_ENV, ProviderError, TwilioConfig, TwilioPlugin
from switchboard.ports.providers import (
    Capability,
    IncomingWebhook,
    ProviderEvent,
    SmsMessage,
    WebhookRejected,
)
from tests.fakes.twilio_standin import TwilioStandIn

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
FROM = "+14155550100"
TO = "+14155550123"
CONFIG = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": FROM}
CALLBACK_URL = "https://switchboard.example.com/v1/webhooks/twilio/7d1c6a52-5a7e-4a0e-9a4e-0d6f1c2b3a4d"


def catalog_with(plugin: object) -> PluginCatalog:
    """The catalog build_plugin_catalog() makes, with this plugin as its only built-in."""
    manager = pluggy.PluginManager("switchboard")
    manager.add_hookspecs(hookspecs)
    catalog = PluginCatalog(manager)
    _register(catalog, plugin, "twilio", "test")
    return catalog


@pytest.fixture
def twilio_api() -> Iterator[TwilioStandIn]:
    with TwilioStandIn() as standin:
        yield standin


@pytest.fixture
def catalog(twilio_api: TwilioStandIn) -> PluginCatalog:
    return catalog_with(TwilioPlugin(api_base=twilio_api.api_base))


def sms_adapter(catalog: PluginCatalog, config: dict[str, Any] = CONFIG) -> Any:
    """What the provider registry does for each use: validate the stored config, build afresh."""
    return catalog.build("twilio", catalog.validate_config("twilio", config).values)


# --- the plugin and its configuration -----------------------------------------------------------


def test_the_plugin_offers_twilio_sms_with_its_webhook_verifier(catalog: PluginCatalog):
    [info] = catalog.plugins
    assert (info.name, info.error) == ("twilio", None)
    description = catalog.describe("twilio")
    assert description is not None
    assert (description.capability, description.plugin) == (Capability.SMS, "twilio")
    spec = catalog.specs["twilio"]
    assert spec.secret_fields == {"auth_token"}
    assert spec.verify_webhook is not None


def test_the_api_base_is_the_operators_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(API_BASE_ENV, "http://127.0.0.1:9")
    assert TwilioPlugin().api_base == "http://127.0.0.1:9"
    assert TwilioPlugin(api_base="http://127.0.0.1:10").api_base == "http://127.0.0.1:10"
    monkeypatch.delenv(API_BASE_ENV)
    assert TwilioPlugin().api_base is None
    # Nothing else lives on the plugin: no client, no tenant's configuration.
    assert vars(TwilioPlugin()) == {"api_base": None}


@pytest.mark.parametrize(
    "config",
    [
        CONFIG,
        {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "messaging_service_sid": SERVICE_SID},
        {**CONFIG, "messaging_service_sid": SERVICE_SID},
    ],
    ids=["from number", "messaging service", "both"],
)
def test_a_configuration_with_a_sender_is_accepted_and_its_token_kept_whole(
    catalog: PluginCatalog, config: dict[str, str]
):
    validated = catalog.validate_config("twilio", config)
    assert validated.values == {"from_number": None, "messaging_service_sid": None, **config}
    assert validated.secret_fields == {"auth_token"}


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        ({}, {"config.account_sid", "config.auth_token"}),
        ({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}, {"config"}),  # no sender
        ({**CONFIG, "account_sid": "AC123"}, {"config.account_sid"}),
        ({**CONFIG, "account_sid": "SK" + "0" * 32}, {"config.account_sid"}),
        ({**CONFIG, "auth_token": "too-short"}, {"config.auth_token"}),
        ({**CONFIG, "auth_token": "f0e1d2c3b4a5968778695a4b3c2d1e0\n"}, {"config.auth_token"}),
        ({**CONFIG, "from_number": "4155550100"}, {"config.from_number"}),
        ({**CONFIG, "messaging_service_sid": "MG123"}, {"config.messaging_service_sid"}),
        # The API host is the operator's, never a tenant's: a tenant cannot redirect the requests.
        ({**CONFIG, "api_base": "http://169.254.169.254"}, {"config.api_base"}),
    ],
    ids=[
        "empty",
        "no sender",
        "short sid",
        "not an account sid",
        "short token",
        "token with a newline",
        "not E.164",
        "bad service sid",
        "api base",
    ],
)
def test_a_bad_configuration_is_refused_field_by_field(
    catalog: PluginCatalog, config: dict[str, str], fields: set[str]
):
    with pytest.raises(InvalidInput) as raised:
        catalog.validate_config("twilio", config)
    assert {error.field for error in raised.value.errors} == fields
    assert AUTH_TOKEN not in str(raised.value.errors)


# --- sending ------------------------------------------------------------------------------------


async def test_send_sms_posts_the_message_with_basic_auth_and_returns_twilios_sid(
    catalog: PluginCatalog, twilio_api: TwilioStandIn
):
    sid = await sms_adapter(catalog).send_sms(SmsMessage(TO, "On our way", idempotency_key="k-1"))

    [request] = twilio_api.requests
    assert (request.method, request.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    assert request.basic_auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["user-agent"].startswith("twilio-python/")
    assert request.form == {"To": TO, "From": FROM, "Body": "On our way"}
    assert sid.startswith("SM")
    assert twilio_api.messages[sid]["status"] == "queued"


async def test_send_sms_through_a_messaging_service(catalog: PluginCatalog, twilio_api: TwilioStandIn):
    config = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "messaging_service_sid": SERVICE_SID}

    sid = await sms_adapter(catalog, config).send_sms(SmsMessage(TO, "Your quote is ready"))

    [request] = twilio_api.requests
    assert request.form == {"To": TO, "MessagingServiceSid": SERVICE_SID, "Body": "Your quote is ready"}
    assert twilio_api.messages[sid]["status"] == "accepted"


async def test_each_adapter_sends_with_its_own_tenants_credentials(
    catalog: PluginCatalog, twilio_api: TwilioStandIn
):
    other_sid, other_token = "AC" + "ab" * 16, "0" * 32
    first = sms_adapter(catalog)
    second = sms_adapter(catalog, {**CONFIG, "account_sid": other_sid, "auth_token": other_token})

    await first.send_sms(SmsMessage(TO, "one"))
    await second.send_sms(SmsMessage(TO, "two"))
    await first.send_sms(SmsMessage(TO, "three"))

    assert [(r.path.split("/")[3], r.basic_auth, r.form["Body"]) for r in twilio_api.requests] == [
        (ACCOUNT_SID, (ACCOUNT_SID, AUTH_TOKEN), "one"),
        (other_sid, (other_sid, other_token), "two"),
        (ACCOUNT_SID, (ACCOUNT_SID, AUTH_TOKEN), "three"),
    ]


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [(400, 21211, False), (401, 20003, False), (429, 20429, True), (500, 20500, True), (503, 20503, True)],
)
async def test_a_refusal_is_a_provider_error_retryable_only_when_trying_again_may_help(
    catalog: PluginCatalog, twilio_api: TwilioStandIn, status: int, code: int, retryable: bool
):
    twilio_api.fail_next(status=status)

    with pytest.raises(ProviderError) as raised:
        await sms_adapter(catalog).send_sms(SmsMessage(TO, "Hello"))

    assert (raised.value.status, raised.value.code, raised.value.retryable) == (status, code, retryable)
    assert AUTH_TOKEN not in str(raised.value)
    assert twilio_api.messages == {}


async def test_an_invalid_to_number_is_refused_by_twilio_and_not_retried(
    catalog: PluginCatalog, twilio_api: TwilioStandIn
):
    with pytest.raises(ProviderError) as raised:
        await sms_adapter(catalog).send_sms(SmsMessage("+1555", "Hello"))

    assert (raised.value.status, raised.value.code, raised.value.retryable) == (400, 21211, False)
    assert "Invalid 'To' Phone Number" in str(raised.value)


async def test_a_failure_then_a_retry_sends_once():
    with TwilioStandIn() as twilio_api:
        catalog = catalog_with(TwilioPlugin(api_base=twilio_api.api_base))
        twilio_api.fail_next(status=500)
        sms = sms_adapter(catalog)
        with pytest.raises(ProviderError):
            await sms.send_sms(SmsMessage(TO, "Hello"))
        sid = await sms.send_sms(SmsMessage(TO, "Hello"))
        assert list(twilio_api.messages) == [sid]
        assert len(twilio_api.requests) == 2


async def test_twilio_out_of_reach_is_a_retryable_provider_error():
    with TwilioStandIn() as twilio_api:
        api_base = twilio_api.api_base
    sms = sms_adapter(catalog_with(TwilioPlugin(api_base=api_base)))  # its port is closed now

    with pytest.raises(ProviderError) as raised:
        await sms.send_sms(SmsMessage(TO, "Hello"))

    assert raised.value.retryable is True
    assert raised.value.status is None


# --- status callbacks and inbound messages ------------------------------------------------------

STATUS_CALLBACK = {
    "AccountSid": ACCOUNT_SID,
    "ApiVersion": "2010-04-01",
    "From": FROM,
    "MessageSid": "SM" + "1234567890abcdef" * 2,
    "MessageStatus": "delivered",
    "SmsSid": "SM" + "1234567890abcdef" * 2,
    "SmsStatus": "delivered",
    "To": TO,
}
INBOUND = {
    "AccountSid": ACCOUNT_SID,
    "ApiVersion": "2010-04-01",
    "Body": "Can we move it to 3pm?",
    "From": TO,
    "FromCity": "",  # Twilio sends (and signs) empty fields
    "FromCountry": "US",
    "MessageSid": "SM" + "fedcba0987654321" * 2,
    "NumMedia": "0",
    "NumSegments": "1",
    "SmsMessageSid": "SM" + "fedcba0987654321" * 2,
    "SmsStatus": "received",
    "To": FROM,
}


def signed(
    params: dict[str, str], *, url: str = CALLBACK_URL, token: str = AUTH_TOKEN, body: str | None = None
) -> IncomingWebhook:
    """A call as Twilio makes it: the form body, signed with the SDK's own signature scheme."""
    signature = RequestValidator(token).compute_signature(url, params)
    return IncomingWebhook(
        headers={"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature},
        body=(body if body is not None else urlencode(params)).encode(),
        url=url,
    )


def verify(
    catalog: PluginCatalog, incoming: IncomingWebhook, config: dict[str, Any] = CONFIG
) -> list[ProviderEvent]:
    spec = catalog.specs["twilio"]
    assert spec.verify_webhook is not None
    return spec.verify_webhook(TwilioConfig.model_validate(config), incoming)


@pytest.mark.parametrize("status", ["queued", "sent", "delivered", "undelivered", "failed"])
def test_a_signed_status_callback_is_one_event_per_transition(catalog: PluginCatalog, status: str):
    params = {**STATUS_CALLBACK, "MessageStatus": status, "SmsStatus": status}

    [event] = verify(catalog, signed(params))

    assert event == ProviderEvent(
        event_id=f"{params['MessageSid']}:{status}", type=f"message.{status}", data=params
    )


def test_a_signed_inbound_message_is_a_received_event(catalog: PluginCatalog):
    [event] = verify(catalog, signed(INBOUND))

    assert event == ProviderEvent(event_id=INBOUND["MessageSid"], type="message.received", data=INBOUND)


def test_a_url_with_its_default_port_written_out_still_verifies(catalog: PluginCatalog):
    # Twilio signs either form; the SDK's validator tries both.
    incoming = signed(STATUS_CALLBACK, url=CALLBACK_URL.replace(".com/", ".com:443/"))
    assert len(verify(catalog, IncomingWebhook(incoming.headers, incoming.body, CALLBACK_URL))) == 1


def tampered(incoming: IncomingWebhook) -> IncomingWebhook:
    return IncomingWebhook(incoming.headers, incoming.body.replace(b"delivered", b"failed"), incoming.url)


def unsigned(incoming: IncomingWebhook) -> IncomingWebhook:
    return IncomingWebhook({"content-type": "application/x-www-form-urlencoded"}, incoming.body, incoming.url)


def elsewhere(incoming: IncomingWebhook) -> IncomingWebhook:
    other_integration = CALLBACK_URL.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    return IncomingWebhook(incoming.headers, incoming.body, other_integration)


def with_extra_field(incoming: IncomingWebhook) -> IncomingWebhook:
    return IncomingWebhook(incoming.headers, incoming.body + b"&ErrorCode=30008", incoming.url)


def with_blank_field_dropped(incoming: IncomingWebhook) -> IncomingWebhook:
    return IncomingWebhook(incoming.headers, incoming.body.replace(b"FromCity=&", b""), incoming.url)


@pytest.mark.parametrize(
    ("params", "change"),
    [
        (STATUS_CALLBACK, tampered),
        (STATUS_CALLBACK, unsigned),
        (STATUS_CALLBACK, elsewhere),
        (STATUS_CALLBACK, with_extra_field),
        (INBOUND, with_blank_field_dropped),
    ],
    ids=["tampered param", "missing header", "wrong URL", "added param", "dropped empty param"],
)
def test_a_call_not_exactly_as_twilio_signed_it_is_rejected(catalog: PluginCatalog, params, change):
    with pytest.raises(WebhookRejected):
        verify(catalog, change(signed(params)))


def test_a_call_signed_with_another_token_is_rejected(catalog: PluginCatalog):
    with pytest.raises(WebhookRejected):
        verify(catalog, signed(STATUS_CALLBACK, token=secrets.token_hex(16)))


def test_a_call_signed_for_another_tenant_is_rejected_with_this_tenants_token(catalog: PluginCatalog):
    other_tenant = {**CONFIG, "auth_token": "a" * 32}
    with pytest.raises(WebhookRejected):
        verify(catalog, signed(STATUS_CALLBACK), other_tenant)


def test_a_signed_call_that_is_no_messaging_callback_is_rejected(catalog: PluginCatalog):
    with pytest.raises(WebhookRejected, match="MessageSid"):
        verify(catalog, signed({"AccountSid": ACCOUNT_SID, "CallSid": "CA" + "0" * 32}))
    no_body = {k: v for k, v in INBOUND.items() if k != "Body"}
    with pytest.raises(WebhookRejected, match="neither"):
        verify(catalog, signed(no_body))


def test_a_body_that_is_not_a_form_is_rejected(catalog: PluginCatalog):
    incoming = signed(STATUS_CALLBACK)
    with pytest.raises(WebhookRejected, match="form"):
        verify(catalog, IncomingWebhook(incoming.headers, b"Body=%FF%FE", incoming.url))
