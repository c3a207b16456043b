"""Feature flags: what a tenant may use, by plan, with per-tenant overrides by platform admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from switchboard.core.errors import DomainError, InvalidInput


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"


@dataclass(frozen=True)
class FlagSpec:
    key: str
    description: str
    defaults: dict[Plan, bool]


# Every flag the product knows, in one place. A route or capability names one of these keys.
FLAGS: dict[str, FlagSpec] = {
    spec.key: spec
    for spec in (
        FlagSpec("integrations", "Connect outside providers", {Plan.FREE: True, Plan.PRO: True}),
        FlagSpec("email", "Send email through a connected provider", {Plan.FREE: True, Plan.PRO: True}),
        FlagSpec(
            "sms", "Send and receive SMS through a connected provider", {Plan.FREE: False, Plan.PRO: True}
        ),
        FlagSpec(
            "payments", "Take payments through a connected provider", {Plan.FREE: False, Plan.PRO: True}
        ),
        FlagSpec(
            "voice",
            "Run voice agents and calls through a connected provider",
            {Plan.FREE: True, Plan.PRO: True},
        ),
        FlagSpec(
            "avatar_video",
            "Generate avatar videos through a connected provider",
            {Plan.FREE: False, Plan.PRO: True},
        ),
    )
}


class FeatureDisabled(DomainError):
    """The tenant's plan or a platform admin has this feature off."""

    code = "feature_disabled"

    def __init__(self, key: str) -> None:
        super().__init__(f"the {key} feature is not enabled for this account")
        self.key = key


@dataclass(frozen=True)
class FlagOverride:
    tenant_id: UUID
    key: str
    enabled: bool
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class FlagChange:
    """One toggle, kept for good: who, when, from what to what (None: the plan's default)."""

    id: UUID
    tenant_id: UUID
    key: str
    old_value: bool | None
    new_value: bool | None
    actor: str
    changed_at: datetime


@dataclass(frozen=True)
class EffectiveFlag:
    key: str
    enabled: bool
    source: str  # "plan" or "override"
    description: str


def effective_flags(plan: Plan, overrides: dict[str, bool]) -> dict[str, EffectiveFlag]:
    return {
        key: EffectiveFlag(
            key,
            overrides.get(key, spec.defaults[plan]),
            "override" if key in overrides else "plan",
            spec.description,
        )
        for key, spec in FLAGS.items()
    }


def check_known(key: str) -> None:
    if key not in FLAGS:
        raise InvalidInput.single(key, "is not a feature flag")
