"""The ProviderRegistry: a tenant's enabled provider for a capability, built fresh each time."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from switchboard.core.errors import Conflict
from switchboard.core.flags.handlers import ensure_enabled
from switchboard.core.flags.model import FLAGS, FeatureDisabled
from switchboard.core.integrations.handlers import open_config
from switchboard.core.integrations.model import Capability
from switchboard.plugins.manager import PluginCatalog
from switchboard.ports.avatar_video import AvatarVideoPort
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.providers import EmailSender, PaymentsPort, SecretBox, SmsSender
from switchboard.ports.voice import VoicePort


class PluginProviderRegistry:
    def __init__(
        self, units: UnitOfWorkFactory, catalog: PluginCatalog, box: SecretBox, default_email: EmailSender
    ) -> None:
        self._units = units
        self._catalog = catalog
        self._box = box
        self._default_email = default_email

    async def email_for(self, tenant_id: UUID) -> EmailSender:
        adapter = await self._adapter(tenant_id, Capability.EMAIL)
        return cast(EmailSender, adapter) if adapter is not None else self._default_email

    async def account_email_for(self, tenant_id: UUID) -> EmailSender:
        """Mail about people's accounts (verification, reset, unlock, invitations) is never held
        back by the email feature flag: the tenant's provider when it may use it, else ours."""
        try:
            return await self.email_for(tenant_id)
        except FeatureDisabled:
            return self._default_email

    async def sms_for(self, tenant_id: UUID) -> SmsSender:
        return cast(SmsSender, await self._required(tenant_id, Capability.SMS))

    async def payments_for(self, tenant_id: UUID) -> PaymentsPort:
        return cast(PaymentsPort, await self._required(tenant_id, Capability.PAYMENTS))

    async def voice_for(self, tenant_id: UUID) -> VoicePort:
        return cast(VoicePort, await self._required(tenant_id, Capability.VOICE))

    async def avatar_video_for(self, tenant_id: UUID) -> AvatarVideoPort:
        return cast(AvatarVideoPort, await self._required(tenant_id, Capability.AVATAR_VIDEO))

    async def _required(self, tenant_id: UUID, capability: Capability) -> object:
        adapter = await self._adapter(tenant_id, capability)
        if adapter is None:
            raise Conflict(f"no {capability} provider is connected", code="provider_not_connected")
        return adapter

    async def _adapter(self, tenant_id: UUID, capability: Capability) -> object | None:
        async with self._units(tenant_id) as uow:
            if capability.value in FLAGS:
                await ensure_enabled(uow, capability.value)
            integration = await uow.integrations.enabled_for(capability)
        if integration is None or self._catalog.describe(integration.provider) is None:
            return None
        # A new adapter from this tenant's own configuration: nothing is shared between tenants.
        return self._catalog.build(integration.provider, open_config(integration, self._box))
