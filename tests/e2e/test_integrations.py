"""Integrations over HTTP: connect, see masked, change, disconnect; and the adapters built from them."""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from switchboard.adapters.clock import SystemClock
from switchboard.adapters.memory.store import MemoryStore
from switchboard.adapters.memory.unit_of_work import MemoryUnitOfWork
from switchboard.adapters.security.secret_box import FernetSecretBox
from switchboard.core.errors import Conflict, PermissionDenied
from switchboard.core.flags.handlers import SetFlags, set_flags
from switchboard.core.identity.model import Principal
from switchboard.core.integrations import handlers
from switchboard.core.integrations.model import MASK
from switchboard.core.pagination import PageRequest
from switchboard.core.tenancy.model import Role
from switchboard.entrypoints.http.blueprints.integrations import IntegrationListOut, IntegrationOut
from switchboard.plugins.fake import FakeRecord
from switchboard.plugins.manager import build_plugin_catalog
from switchboard.ports.providers import EmailMessage, PaymentIntentRequest, SmsMessage
from tests.e2e.helpers import SignedUp, conforms, error_fields, expect_problem, sign_up


def new_api_key() -> str:
    """Long enough to be shown as its last four characters, unique so any leak is unmistakable."""
    return f"sk_test_{uuid4().hex}"


def masked(key: str) -> str:
    return MASK + key[-4:]


async def enable_features(container, who: SignedUp, *keys: str) -> None:
    """Turn plan-gated capabilities (sms, payments) on for one tenant, as a platform admin would."""
    tenant_id = UUID(who.tenant_id)
    command = SetFlags(tenant_id, dict.fromkeys(keys, True))
    await set_flags(command, uuid4(), container.units()(tenant_id), container.clock())


def fake_record(container) -> FakeRecord:
    record: FakeRecord = container.plugins().manager.get_plugin("fake").record
    return record


async def connect(
    client,
    who: SignedUp,
    provider: str = "fake_email",
    *,
    api_key: str | None = None,
    label: str = "main",
    enabled: bool = True,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST /v1/integrations and return the raw response."""
    payload = {"provider": provider, "config": {"api_key": api_key or new_api_key(), "label": label}}
    return await client.post(
        "/v1/integrations", json=payload | {"enabled": enabled}, headers=who.auth | (headers or {})
    )


async def connected(client, who: SignedUp, provider: str = "fake_email", **options: Any) -> dict[str, Any]:
    """Connect and return the body, after checking it is a documented 201."""
    response = await connect(client, who, provider, **options)
    assert response.status_code == 201, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(IntegrationOut, body)
    return body


async def fetch(client, who: SignedUp, integration_id: str) -> Any:
    return await client.get(f"/v1/integrations/{integration_id}", headers=who.auth)


async def fetched(client, who: SignedUp, integration_id: str) -> tuple[dict[str, Any], str]:
    response = await fetch(client, who, integration_id)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(IntegrationOut, body)
    return body, response.headers["ETag"]


async def listed(client, who: SignedUp, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/integrations", query_string=params, headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(IntegrationListOut, body)
    for item in body["data"]:
        conforms(IntegrationOut, item)
    return body


async def patch(client, who: SignedUp, integration_id: str, body: dict[str, Any], **headers: str) -> Any:
    return await client.patch(
        f"/v1/integrations/{integration_id}",
        json=body,
        headers=who.auth | {name.replace("_", "-"): value for name, value in headers.items()},
    )


def stored_sealed_config(database, integration_id: str) -> bytes:
    """The row as it lies on disk, read as the database owner (outside the application)."""
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute(
            "SELECT sealed_config FROM integrations WHERE id = %s", (UUID(integration_id),)
        ).fetchone()
    assert row is not None, "the integration is not stored"
    return bytes(row[0])


# --- connect --------------------------------------------------------------------------------------


async def test_connecting_a_provider_answers_201_with_location_etag_and_the_masked_integration(client):
    owner = await sign_up(client)
    key = new_api_key()

    response = await connect(client, owner, api_key=key, label="Transactional")

    assert response.status_code == 201, await response.get_data()
    body = await response.get_json()
    conforms(IntegrationOut, body)
    assert response.headers["Location"] == f"/v1/integrations/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["object"] == "integration"
    assert body["provider"] == "fake_email"
    assert body["capability"] == "email"
    assert body["enabled"] is True
    assert body["webhook_url"] == f"/v1/webhooks/fake_email/{body['id']}"
    assert body["config"] == {"api_key": masked(key), "label": "Transactional", "webhook_secret": None}
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")
    assert key.encode() not in await response.get_data()
    assert key[:-4].encode() not in await response.get_data()


async def test_a_short_secret_is_masked_entirely(client):
    owner = await sign_up(client)
    key = "abcd1234efg"  # 11 characters: too short to show any of it

    body = await connected(client, owner, api_key=key)

    assert body["config"]["api_key"] == MASK


async def test_reading_one_integration_or_the_list_masks_the_secret_too(client):
    owner = await sign_up(client)
    key = new_api_key()
    created = await connected(client, owner, api_key=key, label="Shown")

    one = await fetch(client, owner, created["id"])
    many = await client.get("/v1/integrations", headers=owner.auth)

    assert one.status_code == many.status_code == 200
    assert key.encode() not in await one.get_data()
    assert key.encode() not in await many.get_data()
    one_body = await one.get_json()
    conforms(IntegrationOut, one_body)
    assert one_body == created
    assert one.headers["ETag"] == '"1"'
    listed_body = await many.get_json()
    conforms(IntegrationListOut, listed_body)
    assert listed_body["data"] == [created]
    assert listed_body["has_more"] is False
    assert listed_body["next_cursor"] is None


async def test_the_list_is_newest_first_and_pages_with_a_cursor(client):
    owner = await sign_up(client)
    made = [await connected(client, owner, "fake_email", enabled=False, label=f"spare {n}") for n in range(3)]

    first = await listed(client, owner, limit=2)
    second = await listed(client, owner, limit=2, cursor=first["next_cursor"])

    assert first["has_more"] is True
    assert second["has_more"] is False
    assert [i["id"] for i in first["data"] + second["data"]] == [i["id"] for i in reversed(made)]


async def test_the_stored_configuration_is_encrypted_with_the_apps_key(client, container, database):
    owner = await sign_up(client)
    key = new_api_key()
    created = await connected(client, owner, api_key=key, label="At Rest Label")

    sealed = stored_sealed_config(database, created["id"])

    assert key.encode() not in sealed
    assert key[-8:].encode() not in sealed
    assert b"At Rest Label" not in sealed
    assert b"api_key" not in sealed
    assert json.loads(container.secret_box().open(sealed)) == {
        "api_key": key,
        "label": "At Rest Label",
        "webhook_secret": None,
    }


async def test_an_unknown_provider_is_a_400_naming_the_provider_field(client):
    owner = await sign_up(client)

    response = await connect(client, owner, "no_such_provider")

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"provider"}
    assert (await listed(client, owner))["data"] == []


@pytest.mark.parametrize(
    ("config", "field"),
    [
        pytest.param({"api_key": "short"}, "config.api_key", id="short-api-key"),
        pytest.param({}, "config.api_key", id="missing-api-key"),
        pytest.param({"api_key": "sk_long_enough_key", "bogus": "x"}, "config.bogus", id="unknown-field"),
        pytest.param({"api_key": 12345678901}, "config.api_key", id="api-key-not-a-string"),
    ],
)
async def test_a_configuration_the_plugin_refuses_is_a_400_naming_the_config_field(
    client, config: dict[str, Any], field: str
):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/integrations", json={"provider": "fake_email", "config": config}, headers=owner.auth
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert field in error_fields(problem)
    assert (await listed(client, owner))["data"] == []


async def test_a_refused_configuration_never_echoes_the_secret_it_was_sent(client):
    owner = await sign_up(client)
    key = f"sk_test_{uuid4().hex}" * 10  # too long: 400 characters

    response = await client.post(
        "/v1/integrations",
        json={"provider": "fake_email", "config": {"api_key": key, "also_secret": key}},
        headers=owner.auth,
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"config.api_key", "config.also_secret"}
    assert key[:40].encode() not in await response.get_data()


async def test_unknown_fields_in_the_body_are_refused(client):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/integrations",
        json={"provider": "fake_email", "config": {"api_key": new_api_key()}, "tenant_id": str(uuid4())},
        headers=owner.auth,
    )

    await expect_problem(response, 400)
    assert (await listed(client, owner))["data"] == []


async def test_connecting_without_credentials_is_401(client):
    response = await client.post(
        "/v1/integrations", json={"provider": "fake_email", "config": {"api_key": new_api_key()}}
    )

    await expect_problem(response, 401)


# --- one enabled integration per capability -------------------------------------------------------


async def test_a_second_enabled_integration_for_a_capability_is_409_capability_taken(client):
    owner = await sign_up(client)
    first = await connected(client, owner, label="first")

    response = await connect(client, owner, label="second")

    await expect_problem(response, 409, "capability_taken")
    assert [i["id"] for i in (await listed(client, owner))["data"]] == [first["id"]]


async def test_a_disabled_second_integration_is_accepted_but_cannot_be_enabled_while_the_first_is(client):
    owner = await sign_up(client)
    await connected(client, owner, label="first")
    spare = await connected(client, owner, label="spare", enabled=False)
    before = await fetched(client, owner, spare["id"])

    response = await patch(client, owner, spare["id"], {"enabled": True})

    await expect_problem(response, 409, "capability_taken")
    assert spare["enabled"] is False
    assert await fetched(client, owner, spare["id"]) == before


async def test_disabling_the_holder_lets_another_integration_take_the_capability(client):
    owner = await sign_up(client)
    first = await connected(client, owner, label="first")
    spare = await connected(client, owner, label="spare", enabled=False)

    disabled = await patch(client, owner, first["id"], {"enabled": False})
    enabled = await patch(client, owner, spare["id"], {"enabled": True})

    assert disabled.status_code == enabled.status_code == 200
    assert (await enabled.get_json())["enabled"] is True


async def test_other_capabilities_are_independent(client, container):
    owner = await sign_up(client)
    await enable_features(container, owner, "sms", "payments")
    await connected(client, owner, "fake_email")

    sms = await connected(client, owner, "fake_sms")
    payments = await connected(client, owner, "fake_payments")

    assert sms["capability"] == "sms"
    assert payments["capability"] == "payments"
    assert sms["webhook_url"] == f"/v1/webhooks/fake_sms/{sms['id']}"


# --- update ---------------------------------------------------------------------------------------


async def test_patching_only_the_label_keeps_the_secret_and_the_adapter_uses_the_new_label(client, container):
    owner = await sign_up(client)
    key = new_api_key()
    created = await connected(client, owner, api_key=key, label="old")

    response = await patch(client, owner, created["id"], {"config": {"label": "new"}})

    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(IntegrationOut, body)
    assert body["config"] == {"api_key": masked(key), "label": "new", "webhook_secret": None}
    assert response.headers["ETag"] == '"2"'
    assert body["updated_at"] > created["updated_at"]
    assert body["created_at"] == created["created_at"]
    assert key.encode() not in await response.get_data()

    sender = await container.provider_registry().email_for(UUID(owner.tenant_id))
    message = EmailMessage(to="grace@example.com", subject="Hello", text="Kept the key")
    await sender.send_email(message)

    assert fake_record(container).emails[-1] == ("new", message)
    assert sender.config.api_key.get_secret_value() == key


async def test_patching_a_new_api_key_changes_the_masked_tail(client, container):
    owner = await sign_up(client)
    old_key, new_key = new_api_key(), new_api_key()
    created = await connected(client, owner, api_key=old_key, label="same")

    response = await patch(client, owner, created["id"], {"config": {"api_key": new_key}})

    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    assert body["config"] == {"api_key": masked(new_key), "label": "same", "webhook_secret": None}
    assert new_key.encode() not in await response.get_data()
    sender = await container.provider_registry().email_for(UUID(owner.tenant_id))
    assert sender.config.api_key.get_secret_value() == new_key


async def test_a_patch_the_plugin_refuses_is_400_and_changes_nothing(client):
    owner = await sign_up(client)
    created = await connected(client, owner)
    before = await fetched(client, owner, created["id"])

    short = await patch(client, owner, created["id"], {"config": {"api_key": "short"}})
    bogus = await patch(client, owner, created["id"], {"config": {"bogus": "x"}})

    assert error_fields(await expect_problem(short, 400, "validation_error")) == {"config.api_key"}
    assert error_fields(await expect_problem(bogus, 400, "validation_error")) == {"config.bogus"}
    assert await fetched(client, owner, created["id"]) == before


async def test_a_patch_with_a_stale_if_match_is_412_and_changes_nothing(client):
    owner = await sign_up(client)
    created = await connected(client, owner, label="v1")
    assert (
        await patch(client, owner, created["id"], {"config": {"label": "v2"}}, If_Match='"1"')
    ).status_code == 200
    before = await fetched(client, owner, created["id"])

    stale = await patch(client, owner, created["id"], {"config": {"label": "v3"}}, If_Match='"1"')

    await expect_problem(stale, 412, "precondition_failed")
    assert await fetched(client, owner, created["id"]) == before
    assert before[1] == '"2"'
    assert before[0]["config"]["label"] == "v2"


# --- delete ---------------------------------------------------------------------------------------


async def test_deleting_answers_204_then_the_integration_is_404(client):
    owner = await sign_up(client)
    created = await connected(client, owner)
    url = f"/v1/integrations/{created['id']}"

    deleted = await client.delete(url, headers=owner.auth)
    again = await client.delete(url, headers=owner.auth)

    assert deleted.status_code == 204
    assert await deleted.get_data() == b""
    await expect_problem(await fetch(client, owner, created["id"]), 404, "not_found")
    await expect_problem(again, 404, "not_found")
    assert (await listed(client, owner))["data"] == []


async def test_a_delete_with_a_stale_if_match_is_412_and_keeps_the_integration(client):
    owner = await sign_up(client)
    created = await connected(client, owner, label="v1")
    await patch(client, owner, created["id"], {"config": {"label": "v2"}})
    url = f"/v1/integrations/{created['id']}"

    stale = await client.delete(url, headers=owner.auth | {"If-Match": '"1"'})
    current = await client.delete(url, headers=owner.auth | {"If-Match": '"2"'})

    await expect_problem(stale, 412, "precondition_failed")
    assert current.status_code == 204


async def test_after_the_email_integration_is_deleted_email_falls_back_to_the_console(client, container):
    owner = await sign_up(client)
    created = await connected(client, owner, label="gone soon")
    registry = container.provider_registry()
    assert type(await registry.email_for(UUID(owner.tenant_id))).__name__ == "FakeEmail"

    assert (await client.delete(f"/v1/integrations/{created['id']}", headers=owner.auth)).status_code == 204

    assert type(await registry.email_for(UUID(owner.tenant_id))).__name__ == "ConsoleEmailSender"


async def test_a_disabled_email_integration_is_not_used(client, container):
    owner = await sign_up(client)
    await connected(client, owner, label="off", enabled=False)

    sender = await container.provider_registry().email_for(UUID(owner.tenant_id))

    assert type(sender).__name__ == "ConsoleEmailSender"


# --- the provider registry ------------------------------------------------------------------------


async def test_sms_and_payments_without_a_connected_provider_raise_provider_not_connected(client, container):
    owner = await sign_up(client)
    await enable_features(container, owner, "sms", "payments")
    await connected(client, owner, "fake_sms", enabled=False)
    registry = container.provider_registry()

    with pytest.raises(Conflict) as sms:
        await registry.sms_for(UUID(owner.tenant_id))
    with pytest.raises(Conflict) as payments:
        await registry.payments_for(UUID(owner.tenant_id))

    assert sms.value.code == "provider_not_connected"
    assert payments.value.code == "provider_not_connected"


async def test_each_tenant_gets_a_fresh_adapter_built_from_its_own_configuration(client, container):
    a = await sign_up(client, tenant_name="Tenant A")
    b = await sign_up(client, tenant_name="Tenant B")
    await enable_features(container, a, "sms")
    await enable_features(container, b, "sms")
    key_a, key_b = new_api_key(), new_api_key()
    await connected(client, a, "fake_sms", api_key=key_a, label="A")
    await connected(client, b, "fake_sms", api_key=key_b, label="B")
    registry = container.provider_registry()

    sms_a = await registry.sms_for(UUID(a.tenant_id))
    sms_b = await registry.sms_for(UUID(b.tenant_id))
    sms_a_again = await registry.sms_for(UUID(a.tenant_id))

    assert sms_a is not sms_b
    assert sms_a is not sms_a_again
    assert sms_a.config.label == "A"
    assert sms_b.config.label == "B"
    assert sms_a.config.api_key.get_secret_value() == key_a
    assert sms_b.config.api_key.get_secret_value() == key_b

    to_a = SmsMessage(to="+14155550100", body="for A")
    to_b = SmsMessage(to="+14155550101", body="for B")
    await sms_a.send_sms(to_a)
    await sms_b.send_sms(to_b)
    assert fake_record(container).sms[-2:] == [("A", to_a), ("B", to_b)]


async def test_payments_go_through_the_tenants_connected_provider(client, container):
    owner = await sign_up(client)
    await enable_features(container, owner, "payments")
    await connected(client, owner, "fake_payments", label="till")

    payments = await container.provider_registry().payments_for(UUID(owner.tenant_id))
    request = PaymentIntentRequest(amount=1999, currency="USD", description="Boiler service")
    intent = await payments.create_payment_intent(request)

    assert intent.amount == 1999
    assert fake_record(container).payment_intents[-1] == ("till", request)


# --- tenant isolation -----------------------------------------------------------------------------


async def test_another_tenants_integration_is_404_on_get_patch_and_delete_and_stays_unchanged(client):
    a = await sign_up(client, tenant_name="Alpha Integrations")
    b = await sign_up(client, tenant_name="Beta Integrations")
    theirs = await connected(client, b, label="beta's")
    before = await fetched(client, b, theirs["id"])
    url = f"/v1/integrations/{theirs['id']}"

    got = await client.get(url, headers=a.auth)
    patched = await client.patch(url, json={"config": {"label": "pwned"}}, headers=a.auth)
    disabled = await client.patch(url, json={"enabled": False}, headers=a.auth | {"If-Match": before[1]})
    deleted = await client.delete(url, headers=a.auth)
    never_existed = await client.get(f"/v1/integrations/{uuid4()}", headers=a.auth)

    for response in (got, patched, disabled, deleted, never_existed):
        await expect_problem(response, 404, "not_found")
    assert (await got.get_json())["detail"] == (await never_existed.get_json())["detail"]
    assert (await listed(client, a))["data"] == []
    assert await fetched(client, b, theirs["id"]) == before


# --- idempotency ----------------------------------------------------------------------------------


async def test_a_connect_retried_with_the_same_idempotency_key_creates_one_integration(client):
    owner = await sign_up(client)
    key = new_api_key()
    retry = {"Idempotency-Key": f"connect-{uuid.uuid4()}"}

    first = await connect(client, owner, api_key=key, label="once", headers=retry)
    second = await connect(client, owner, api_key=key, label="once", headers=retry)

    assert first.status_code == second.status_code == 201
    assert await second.get_data() == await first.get_data()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert key.encode() not in await second.get_data()
    assert [i["id"] for i in (await listed(client, owner))["data"]] == [(await first.get_json())["id"]]


# --- secrets stay out of the logs -----------------------------------------------------------------


async def test_the_plaintext_api_key_never_reaches_stdout(client, capsys):
    owner = await sign_up(client)
    key, replacement = new_api_key(), new_api_key()
    capsys.readouterr()

    created = await connected(client, owner, api_key=key, headers={"Idempotency-Key": f"log-{uuid4()}"})
    await fetch(client, owner, created["id"])
    await listed(client, owner)
    await patch(client, owner, created["id"], {"config": {"api_key": replacement}})
    await connect(client, owner, api_key=key)  # 409: the capability is taken
    await client.post(
        "/v1/integrations",
        json={"provider": "fake_email", "config": {"api_key": key, "bogus": key}},
        headers=owner.auth,
    )
    await client.delete(f"/v1/integrations/{created['id']}", headers=owner.auth)
    logged = capsys.readouterr().out

    assert "/v1/integrations" in logged, "the access log was not captured"
    assert key not in logged
    assert replacement not in logged


# --- permissions (no member can be made over HTTP yet: checked at the core) -----------------------


def _core_dependencies() -> tuple[Any, Any, Any, Any]:
    units = partial(MemoryUnitOfWork, MemoryStore())
    catalog = build_plugin_catalog(load_entry_points=False)
    box = FernetSecretBox([FernetSecretBox.generate_key()])
    return units, catalog, box, SystemClock()


async def test_a_member_may_not_connect_a_provider():
    units, catalog, box, clock = _core_dependencies()
    member = Principal(user_id=uuid4(), tenant_id=uuid4(), role=Role.MEMBER)
    command = handlers.ConnectProvider("fake_email", {"api_key": new_api_key(), "label": "x"})

    with pytest.raises(PermissionDenied):
        await handlers.connect_provider(
            command, member, units(member.tenant_id, member.user_id), catalog, box, clock
        )

    async with units(member.tenant_id, member.user_id) as uow:
        assert (await uow.integrations.list(PageRequest(limit=100))).items == []


async def test_a_member_may_not_list_read_change_or_delete_integrations():
    units, catalog, box, clock = _core_dependencies()
    member = Principal(user_id=uuid4(), tenant_id=uuid4(), role=Role.MEMBER)
    some_id = uuid4()

    def uow() -> Any:
        return units(member.tenant_id, member.user_id)

    with pytest.raises(PermissionDenied):
        await handlers.list_integrations(PageRequest(), member, uow(), box)
    with pytest.raises(PermissionDenied):
        await handlers.get_integration(some_id, member, uow(), box)
    with pytest.raises(PermissionDenied):
        await handlers.update_integration(
            handlers.UpdateIntegration(some_id, enabled=False), member, uow(), catalog, box, clock
        )
    with pytest.raises(PermissionDenied):
        await handlers.delete_integration(some_id, None, member, uow())
