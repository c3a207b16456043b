"""``Idempotency-Key`` on POST, as Stripe does it.

The first answer to a key is stored for 24 hours and replayed, byte for byte, to a retry with
the same key and body. The same key with another body is 422; a retry while the first request is
still running is 409. A request that ends in an error (a problem response) stores nothing,
so its retry runs afresh.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import wraps
from typing import ParamSpec

from dependency_injector.wiring import Provide, inject
from quart import Response, request

from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting
from switchboard.entrypoints.http.errors import ApiError
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import IdempotencyRecord, StoredResponse, UnitOfWorkFactory

KEY_LIFETIME = timedelta(hours=24)
STALE_AFTER = timedelta(minutes=5)
_SANE_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("Location", "ETag", "Content-Type")

P = ParamSpec("P")


def idempotent(view: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return await view(*args, **kwargs)
        if not _SANE_KEY.match(key):
            raise ApiError(
                400, "Idempotency-Key must be 1 to 255 visible ASCII characters", "invalid_idempotency_key"
            )
        fingerprint = hashlib.sha256(
            b"\n".join([request.method.encode(), request.path.encode(), await _body_fingerprint()])
        ).hexdigest()
        held = await _claim(key, fingerprint)
        if held is not None:
            return _answer_for(held, fingerprint)
        try:
            response = await view(*args, **kwargs)
        except Exception:
            await _settle(key, None)
            raise
        stored = StoredResponse(
            response.status_code,
            {name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers},
            await response.get_data(),
        )
        await _settle(key, stored if response.status_code < 500 else None)
        return response

    return wrapper


async def _body_fingerprint() -> bytes:
    """The body as compared between a request and its retry. A multipart body (an upload) is
    compared by its parts, not its bytes: clients pick a fresh boundary for every request."""
    if request.mimetype != "multipart/form-data":
        return await request.get_data()
    try:
        form, files = await request.form, await request.files
    except ValueError:
        return b""  # not the multipart it says it is: the view refuses it
    parts = [f"{name}={value}".encode() for name, value in form.items(multi=True)]
    for name, file in files.items(multi=True):
        digest = hashlib.sha256(file.stream.read()).hexdigest()
        file.stream.seek(0)  # the view reads it again
        parts.append(f"{name}:{file.filename}:{digest}".encode())
    return b"\n".join(parts)


def _answer_for(held: IdempotencyRecord, fingerprint: str) -> Response:
    if held.fingerprint != fingerprint:
        raise ApiError(
            422, "this Idempotency-Key was used with a different request", "idempotency_key_reused"
        )
    if held.response is None:
        raise ApiError(
            409, "a request with this Idempotency-Key is still being processed", "idempotency_in_progress"
        )
    replay = held.response
    return Response(
        replay.body, status=replay.status, headers=replay.headers | {"Idempotent-Replayed": "true"}
    )


@inject
async def _claim(
    key: str,
    fingerprint: str,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> IdempotencyRecord | None:
    now = clock.now()
    record = IdempotencyRecord(key, fingerprint, now, now + KEY_LIFETIME)
    _, unit_of_work = acting(units)
    async with unit_of_work as uow:
        held = await uow.idempotency_keys.claim(record, stale_before=now - STALE_AFTER)
        await uow.commit()
    return held


@inject
async def _settle(
    key: str, response: StoredResponse | None, units: UnitOfWorkFactory = Provide[Container.units]
) -> None:
    """Keep the answer for replays, or free the key so the request can be tried again."""
    _, unit_of_work = acting(units)
    async with unit_of_work as uow:
        if response is None:
            await uow.idempotency_keys.release(key)
        else:
            await uow.idempotency_keys.complete(key, response)
        await uow.commit()
