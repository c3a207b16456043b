"""Blueprint guards for feature flags: a flag that is off answers 403 ``feature_disabled``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dependency_injector.wiring import Provide, inject
from quart import request

from switchboard.core.flags.handlers import require_feature
from switchboard.core.flags.model import FLAGS
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting
from switchboard.ports.persistence import UnitOfWorkFactory


def requires_feature(key: str) -> Callable[[], Awaitable[None]]:
    """A guard to register after ``require_principal``: the caller's tenant needs ``key`` on."""
    if key not in FLAGS:
        raise ValueError(f"unknown feature flag {key!r}")

    async def guard() -> None:
        if request.method != "OPTIONS":
            await _check(key)

    return guard


@inject
async def _check(key: str, units: UnitOfWorkFactory = Provide[Container.units]) -> None:
    _, uow = acting(units)
    await require_feature(key, uow)
