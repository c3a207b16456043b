"""Which role may do what: the one table every permission check reads."""

from __future__ import annotations

from enum import StrEnum

from switchboard.core.errors import PermissionDenied
from switchboard.core.tenancy.model import Role


class Action(StrEnum):
    TENANT_READ = "tenant:read"
    TENANT_UPDATE = "tenant:update"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    INTEGRATIONS_MANAGE = "integrations:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"


_EVERYONE = frozenset(Role)
_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.TENANT_READ: _EVERYONE,
    Action.TENANT_UPDATE: _MANAGERS,
    Action.CUSTOMERS_READ: _EVERYONE,
    Action.CUSTOMERS_WRITE: _EVERYONE,
    # Even masked, provider settings are for the people who run the account.
    Action.INTEGRATIONS_MANAGE: _MANAGERS,
    Action.WEBHOOKS_MANAGE: _MANAGERS,
}


def require(role: Role, action: Action) -> None:
    if role not in PERMISSIONS[action]:
        raise PermissionDenied(f"the {role} role may not perform {action}")
