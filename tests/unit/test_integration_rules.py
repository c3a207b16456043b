from datetime import UTC, datetime
from functools import partial
from uuid import uuid4

import pytest

from switchboard.adapters.clock import SystemClock
from switchboard.adapters.memory.store import MemoryStore
from switchboard.adapters.memory.unit_of_work import MemoryUnitOfWork
from switchboard.adapters.security.secret_box import FernetSecretBox
from switchboard.core.errors import Conflict
from switchboard.core.identity.model import Principal
from switchboard.core.integrations import handlers
from switchboard.core.integrations.model import Capability, Integration, mask_secret, merge_config, preview
from switchboard.core.tenancy.model import Role, Tenant
from switchboard.plugins.manager import build_plugin_catalog

NEW = FernetSecretBox.generate_key()


def test_secrets_show_only_their_last_four_characters_and_short_ones_nothing():
    assert mask_secret("sk_live_abcdef123456") == "••••3456"
    assert mask_secret("short") == "••••"


def test_a_preview_masks_the_secret_fields_only():
    config = {"label": "Main account", "api_key": "sk_live_abcdef123456", "webhook_secret": None}
    assert preview(config, ("api_key", "webhook_secret")) == {
        "label": "Main account",
        "api_key": "••••3456",
        "webhook_secret": None,
    }


def test_a_partial_update_keeps_the_fields_not_sent():
    assert merge_config({"label": "a", "api_key": "k"}, {"label": "b"}) == {"label": "b", "api_key": "k"}


async def test_changing_an_integration_whose_plugin_is_gone_is_a_clear_conflict():
    store, box, now = MemoryStore(), FernetSecretBox([NEW]), datetime.now(UTC)
    units = partial(MemoryUnitOfWork, store)
    principal = Principal(uuid4(), uuid4(), Role.OWNER)
    orphan = Integration(
        uuid4(), principal.tenant_id, "uninstalled_sms", Capability.SMS, True, box.seal(b"{}"), (), now, now
    )
    async with units(principal.tenant_id) as uow:
        await uow.tenants.add(Tenant(principal.tenant_id, "T", now, now))
        await uow.integrations.add(orphan)
        await uow.commit()
    command = handlers.UpdateIntegration(orphan.id, config={"label": "x"})

    with pytest.raises(Conflict) as raised:
        await handlers.update_integration(
            command,
            principal,
            units(principal.tenant_id),
            build_plugin_catalog(load_entry_points=False),
            box,
            SystemClock(),
        )
    assert raised.value.code == "provider_unavailable"
