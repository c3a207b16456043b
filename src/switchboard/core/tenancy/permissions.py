"""Who may do what: the one table every permission check reads.

A user acts with the role their membership gives them. An API key acts with its scopes, one per
resource family, read or write (write includes read); actions about people and credentials
(the team, API keys, one's own account security) are never open to a key. A platform admin
impersonating a user acts with that user's role, except on the user's credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from switchboard.core.errors import PermissionDenied
from switchboard.core.identity.model import Principal
from switchboard.core.tenancy.model import Access, Role

__all__ = ["PERMISSIONS", "SCOPE_FAMILIES", "Access", "Action", "Rule", "allows", "require"]


class Action(StrEnum):
    TENANT_READ = "tenant:read"
    TENANT_UPDATE = "tenant:update"
    TEAM_READ = "team:read"
    TEAM_MANAGE = "team:manage"
    OWNERSHIP_TRANSFER = "team:transfer_ownership"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    SCHEDULING_READ = "scheduling:read"
    SCHEDULING_WRITE = "scheduling:write"
    # Resources, their hours and overrides, and their public calendar feeds.
    SCHEDULING_MANAGE = "scheduling:manage"
    SALES_READ = "sales:read"
    SALES_WRITE = "sales:write"
    # Sales settings, voiding invoices, refunds.
    SALES_MANAGE = "sales:manage"
    REMINDERS_READ = "reminders:read"
    # Reminder settings: which reminders go to customers, and when.
    REMINDERS_MANAGE = "reminders:manage"
    # Text messages with customers, and the numbers that opted out of them.
    MESSAGES_READ = "messages:read"
    # Text a customer.
    MESSAGES_WRITE = "messages:write"
    INTEGRATIONS_READ = "integrations:read"
    INTEGRATIONS_WRITE = "integrations:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    API_KEYS_MANAGE = "api_keys:manage"
    AUDIT_LOG_READ = "audit_logs:read"
    # Call reports: costs, revenue attributed to calls, and the call and report exports.
    ANALYTICS_READ = "analytics:read"
    # Voice agents, their versions and phone numbers.
    AGENTS_READ = "agents:read"
    # Change, publish, roll back, clone and delete agents; sync and assign phone numbers.
    AGENTS_WRITE = "agents:write"
    # Calls: their records, transcripts and recordings.
    CALLS_READ = "calls:read"
    # Start and end calls, give feedback on them.
    CALLS_WRITE = "calls:write"
    # Avatar videos: their history, and the provider's avatars and voices (cached).
    AVATAR_VIDEOS_READ = "avatar_videos:read"
    # Request avatar videos.
    AVATAR_VIDEOS_WRITE = "avatar_videos:write"
    # Refresh the cached avatars and voices from the provider at once.
    AVATAR_VIDEOS_MANAGE = "avatar_videos:manage"
    # One's own password, second factor and sessions.
    ACCOUNT_SECURITY = "account:security"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    # The scope an API key needs, as (resource family, access); None: never with a key.
    key_scope: tuple[str, Access] | None
    while_impersonating: bool = True


_EVERYONE = frozenset(Role)
_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
_OWNER = frozenset({Role.OWNER})

PERMISSIONS: dict[Action, Rule] = {
    Action.TENANT_READ: Rule(_EVERYONE, ("tenant", Access.READ)),
    Action.TENANT_UPDATE: Rule(_MANAGERS, ("tenant", Access.WRITE)),
    Action.TEAM_READ: Rule(_EVERYONE, ("team", Access.READ)),
    Action.TEAM_MANAGE: Rule(_MANAGERS, None),
    Action.OWNERSHIP_TRANSFER: Rule(_OWNER, None),
    Action.CUSTOMERS_READ: Rule(_EVERYONE, ("customers", Access.READ)),
    Action.CUSTOMERS_WRITE: Rule(_EVERYONE, ("customers", Access.WRITE)),
    Action.SCHEDULING_READ: Rule(_EVERYONE, ("scheduling", Access.READ)),
    Action.SCHEDULING_WRITE: Rule(_EVERYONE, ("scheduling", Access.WRITE)),
    Action.SCHEDULING_MANAGE: Rule(_MANAGERS, ("scheduling", Access.WRITE)),
    Action.SALES_READ: Rule(_EVERYONE, ("sales", Access.READ)),
    Action.SALES_WRITE: Rule(_EVERYONE, ("sales", Access.WRITE)),
    Action.SALES_MANAGE: Rule(_MANAGERS, ("sales", Access.WRITE)),
    Action.REMINDERS_READ: Rule(_EVERYONE, ("reminders", Access.READ)),
    Action.REMINDERS_MANAGE: Rule(_MANAGERS, ("reminders", Access.WRITE)),
    Action.MESSAGES_READ: Rule(_EVERYONE, ("messages", Access.READ)),
    Action.MESSAGES_WRITE: Rule(_EVERYONE, ("messages", Access.WRITE)),
    # Even masked, provider settings are for the people who run the account.
    Action.INTEGRATIONS_READ: Rule(_MANAGERS, ("integrations", Access.READ)),
    Action.INTEGRATIONS_WRITE: Rule(_MANAGERS, ("integrations", Access.WRITE)),
    Action.WEBHOOKS_READ: Rule(_MANAGERS, ("webhooks", Access.READ)),
    Action.WEBHOOKS_WRITE: Rule(_MANAGERS, ("webhooks", Access.WRITE)),
    Action.API_KEYS_MANAGE: Rule(_MANAGERS, None, while_impersonating=False),
    Action.AUDIT_LOG_READ: Rule(_MANAGERS, ("audit_logs", Access.READ)),
    Action.ANALYTICS_READ: Rule(_MANAGERS, ("analytics", Access.READ)),
    Action.AGENTS_READ: Rule(_EVERYONE, ("agents", Access.READ)),
    Action.AGENTS_WRITE: Rule(_MANAGERS, ("agents", Access.WRITE)),
    Action.CALLS_READ: Rule(_EVERYONE, ("calls", Access.READ)),
    Action.CALLS_WRITE: Rule(_EVERYONE, ("calls", Access.WRITE)),
    Action.AVATAR_VIDEOS_READ: Rule(_EVERYONE, ("avatar_videos", Access.READ)),
    Action.AVATAR_VIDEOS_WRITE: Rule(_EVERYONE, ("avatar_videos", Access.WRITE)),
    Action.AVATAR_VIDEOS_MANAGE: Rule(_MANAGERS, ("avatar_videos", Access.WRITE)),
    Action.ACCOUNT_SECURITY: Rule(_EVERYONE, None, while_impersonating=False),
}

# Every scope a key can hold: "<family>:read" or "<family>:write".
SCOPE_FAMILIES: tuple[str, ...] = tuple(
    dict.fromkeys(rule.key_scope[0] for rule in PERMISSIONS.values() if rule.key_scope)
)


def allows(principal: Principal, action: Action) -> bool:
    rule = PERMISSIONS[action]
    if principal.voice_agent_id is not None:  # an agent mid-call: only what its tools need
        return action.value in principal.agent_actions
    if principal.impersonator_id is not None and not rule.while_impersonating:
        return False
    if principal.api_key_id is not None:
        if rule.key_scope is None:
            return False
        family, access = rule.key_scope
        granted = principal.scopes.get(family)
        return granted is Access.WRITE or granted is access
    return principal.role is not None and principal.role in rule.roles


def require(principal: Principal, action: Action) -> None:
    if not allows(principal, action):
        raise PermissionDenied(f"{_who(principal)} may not perform {action}")


def _who(principal: Principal) -> str:
    if principal.voice_agent_id is not None:
        return "this voice agent"
    if principal.api_key_id is not None:
        return "this API key"
    if principal.impersonator_id is not None:
        return "an impersonation session"
    return f"the {principal.role} role"
