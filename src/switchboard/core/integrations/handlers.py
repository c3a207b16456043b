"""Connecting, changing and removing a tenant's providers."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from switchboard.core.audit.model import diff
from switchboard.core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from switchboard.core.flags.handlers import ensure_enabled
from switchboard.core.flags.model import FLAGS
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability, Integration, merge_config, preview
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork
    from switchboard.ports.providers import ProviderCatalog, SecretBox

INTEGRATION_NOT_FOUND = "no integration with this id"
# A calendar's configuration is its OAuth tokens, which only the provider's consent gives.
CALENDAR_BY_OAUTH = "calendar accounts are connected through POST /v1/calendar-connections"


@dataclass(frozen=True)
class ConnectProvider:
    provider: str
    config: dict[str, Any]
    enabled: bool = True


@dataclass(frozen=True)
class UpdateIntegration:
    integration_id: UUID
    config: dict[str, Any] | None = None  # only the fields sent; secrets not sent are kept
    enabled: bool | None = None
    if_match: int | None = None


@dataclass(frozen=True)
class IntegrationView:
    """An integration as its tenant may see it: every secret masked."""

    integration: Integration
    config: dict[str, Any]


async def connect_provider(
    cmd: ConnectProvider,
    principal: Principal,
    uow: UnitOfWork,
    catalog: ProviderCatalog,
    box: SecretBox,
    clock: Clock,
) -> IntegrationView:
    require(principal, Action.INTEGRATIONS_WRITE)
    description = catalog.describe(cmd.provider)
    if description is None:
        raise InvalidInput.single("provider", "no installed plugin offers this provider")
    if description.capability is Capability.SIGN_IN:
        raise InvalidInput.single("provider", "sign-in providers are configured by the platform operator")
    if description.capability is Capability.CALENDAR:
        raise InvalidInput.single("provider", CALENDAR_BY_OAUTH)
    validated = catalog.validate_config(cmd.provider, cmd.config)
    now = clock.now()
    integration = Integration(
        id=uuid4(),
        tenant_id=principal.tenant_id,
        provider=description.slug,
        capability=description.capability,
        enabled=cmd.enabled,
        sealed_config=_seal(box, validated.values),
        secret_fields=tuple(sorted(validated.secret_fields)),
        created_at=now,
        updated_at=now,
    )
    async with uow:
        await _check_capability_allowed(uow, integration)
        if integration.enabled:
            await _check_capability_free(uow, integration)
        await uow.integrations.add(integration)
        await uow.audit.record(
            "integration.created",
            "integration",
            str(integration.id),
            {
                "provider": integration.provider,
                "enabled": integration.enabled,
                "config": sorted(validated.values),
            },
        )
        await uow.commit()
    return IntegrationView(integration, preview(validated.values, validated.secret_fields))


async def list_integrations(
    page: PageRequest, principal: Principal, uow: UnitOfWork, box: SecretBox
) -> Page[IntegrationView]:
    require(principal, Action.INTEGRATIONS_READ)
    async with uow:
        found = await uow.integrations.list(page)
    return Page([view_of(i, box) for i in found.items], found.next_position)


async def get_integration(
    integration_id: UUID, principal: Principal, uow: UnitOfWork, box: SecretBox
) -> IntegrationView:
    require(principal, Action.INTEGRATIONS_READ)
    async with uow:
        integration = await uow.integrations.get(integration_id)
    if integration is None:
        raise NotFound(INTEGRATION_NOT_FOUND)
    return view_of(integration, box)


async def update_integration(
    cmd: UpdateIntegration,
    principal: Principal,
    uow: UnitOfWork,
    catalog: ProviderCatalog,
    box: SecretBox,
    clock: Clock,
) -> IntegrationView:
    require(principal, Action.INTEGRATIONS_WRITE)
    async with uow:
        current = await uow.integrations.get(cmd.integration_id, for_update=True)
        if current is None:
            raise NotFound(INTEGRATION_NOT_FOUND)
        if cmd.if_match is not None and cmd.if_match != current.version:
            raise PreconditionFailed("the integration changed since it was read")
        config = _open(box, current)
        if cmd.config is not None and current.capability is Capability.CALENDAR:
            raise InvalidInput.single("config", CALENDAR_BY_OAUTH)
        if cmd.config is not None:
            if catalog.describe(current.provider) is None:
                raise Conflict(
                    f"the plugin offering {current.provider} is not installed", code="provider_unavailable"
                )
            validated = catalog.validate_config(current.provider, merge_config(config, cmd.config))
            config, secret_fields = validated.values, tuple(sorted(validated.secret_fields))
        else:
            secret_fields = current.secret_fields
        updated = replace(
            current,
            enabled=current.enabled if cmd.enabled is None else cmd.enabled,
            sealed_config=_seal(box, config),
            secret_fields=secret_fields,
            updated_at=clock.now(),
            version=current.version + 1,
        )
        if updated.enabled and not current.enabled:
            await _check_capability_allowed(uow, updated)
            await _check_capability_free(uow, updated)
        if not await uow.integrations.update(updated, expected_version=current.version):
            raise PreconditionFailed("the integration changed while it was being updated")
        # Which settings changed, never their values: secrets stay out of the log.
        changes: dict[str, Any] = diff({"enabled": current.enabled}, {"enabled": updated.enabled})
        if cmd.config is not None:
            changes["config"] = sorted(cmd.config)
        await uow.audit.record("integration.updated", "integration", str(updated.id), changes)
        await uow.commit()
    return IntegrationView(updated, preview(config, secret_fields))


async def delete_integration(
    integration_id: UUID, if_match: int | None, principal: Principal, uow: UnitOfWork
) -> None:
    require(principal, Action.INTEGRATIONS_WRITE)
    async with uow:
        current = await uow.integrations.get(integration_id, for_update=True)
        if current is None:
            raise NotFound(INTEGRATION_NOT_FOUND)
        if if_match is not None and if_match != current.version:
            raise PreconditionFailed("the integration changed since it was read")
        await uow.integrations.delete(integration_id)
        await uow.audit.record("integration.deleted", "integration", str(integration_id))
        await uow.commit()


def view_of(integration: Integration, box: SecretBox) -> IntegrationView:
    return IntegrationView(integration, preview(_open(box, integration), integration.secret_fields))


def open_config(integration: Integration, box: SecretBox) -> dict[str, Any]:
    """The configuration in clear, for building the provider's adapter; never for display."""
    return _open(box, integration)


async def _check_capability_allowed(uow: UnitOfWork, integration: Integration) -> None:
    """Capabilities behind a feature flag (sms, payments, ...) need it on for the tenant."""
    if integration.capability.value in FLAGS:
        await ensure_enabled(uow, integration.capability.value)


async def _check_capability_free(uow: UnitOfWork, integration: Integration) -> None:
    holder = await uow.integrations.enabled_for(integration.capability)
    if holder is not None and holder.id != integration.id:
        raise Conflict(
            f"{holder.provider} already serves {integration.capability}; disable it first",
            code="capability_taken",
        )


def _seal(box: SecretBox, config: dict[str, Any]) -> bytes:
    return box.seal(json.dumps(config, separators=(",", ":")).encode())


def _open(box: SecretBox, integration: Integration) -> dict[str, Any]:
    opened: dict[str, Any] = json.loads(box.open(integration.sealed_config))
    return opened
