"""Incoming provider webhooks: verified, stored once per event, acknowledged before processing.

A voice platform's messages that need an answer during the call (an inbound call asking which
agent answers, tool calls) are answered here, synchronously, in the platform's shape
(core/calls/live.py); every other message takes the inbox like any provider's event.
"""

from __future__ import annotations

from uuid import UUID

import structlog
from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel
from quart import Blueprint, Response, request
from quart_schema import document_response, security_scheme_blueprint, tag

from switchboard.core.calls.live import (
    CallOnLine,
    LivePorts,
    choose_assistant,
    read_call_on_line,
    run_tool_calls,
)
from switchboard.core.calls.model import LIVE_KINDS, CallMessage, CallMessageKind
from switchboard.core.integrations.webhooks import VerifiedWebhook, WebhookReception
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import client
from switchboard.entrypoints.http.responses import json_response
from switchboard.ports.clock import Clock
from switchboard.ports.live_calls import ToolRunLedger
from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory
from switchboard.ports.providers import IncomingWebhook, ProviderCatalog
from switchboard.ports.scheduling import BusyTimes
from switchboard.ports.voice import LiveAnswer, VoiceMessages

blueprint = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")
security_scheme_blueprint(blueprint, [])  # providers prove themselves by signature, not token
log = structlog.get_logger("switchboard.webhooks")


class WebhookReceivedOut(BaseModel):
    received: int
    duplicates: int


@blueprint.post("/<string:provider>/<uuid:connection_id>")
@tag(["webhooks"])
@document_response(WebhookReceivedOut)
@inject
async def receive(
    provider: str,
    connection_id: UUID,
    reception: WebhookReception = Provide[Container.webhook_reception],
    units: UnitOfWorkFactory = Provide[Container.units],
    catalog: ProviderCatalog = Provide[Container.plugins],
    clock: Clock = Provide[Container.clock],
    busy_times: BusyTimes = Provide[Container.busy_times],
    ledger: ToolRunLedger = Provide[Container.tool_run_ledger],
) -> Response:
    """A provider's event for one connection (the integration's webhook_url). Acknowledged once
    stored; the worker processes it. A repeated event is acknowledged and stored once.

    A voice platform's assistant request or tool calls are answered in the response instead, in
    the platform's own shape; its other messages are stored and acknowledged as it expects."""
    incoming = IncomingWebhook(
        headers={name.lower(): value for name, value in request.headers.items()},
        body=await request.get_data(),
        url=request.url,
    )
    voice = catalog.voice_messages(provider)  # the integration's own provider, once verified

    async def read_live(
        uow: UnitOfWork, verified: VerifiedWebhook
    ) -> tuple[CallMessage | None, CallOnLine | None]:
        """The message to answer now, and for tool calls their call, read with the integration."""
        live = _live_message(voice, verified) if voice is not None else None
        if live is None or live.kind is not CallMessageKind.TOOL_CALLS:
            return live, None
        return live, await read_call_on_line(uow, verified.integration.id, live)

    verified, (live, on_line) = await reception.verify_and_read(provider, connection_id, incoming, read_live)
    if voice is not None and live is not None:
        ports = LivePorts(units, clock, busy_times, ledger)
        answer = await _answer_live(verified, live, on_line, voice, ports)
        return json_response(answer.body, answer.status)
    received = await reception.store(verified)
    if voice is not None:
        answer = voice.acknowledge()
        return json_response(answer.body, answer.status)
    expected = catalog.acknowledgement(provider)
    if expected is not None:
        return Response(expected.body, expected.status, content_type=expected.content_type)
    return json_response({"received": received.stored, "duplicates": received.duplicates})


def _live_message(voice: VoiceMessages, verified: VerifiedWebhook) -> CallMessage | None:
    """The one message of the call, when it needs an answer now. A message the plugin cannot
    read is stored like any other: the worker reads it again and parks it if it still cannot."""
    if len(verified.events) != 1:
        return None
    try:
        message = voice.read(verified.events[0])
    except Exception as error:  # a plugin's reading of an unexpected shape must not lose it
        log.warning("voice_message_unreadable", provider=verified.integration.provider, error=str(error))
        return None
    return message if message.kind in LIVE_KINDS else None


async def _answer_live(
    verified: VerifiedWebhook,
    message: CallMessage,
    on_line: CallOnLine | None,
    voice: VoiceMessages,
    ports: LivePorts,
) -> LiveAnswer:
    tenant_id, integration_id = verified.tenant_id, verified.integration.id
    if message.kind is CallMessageKind.ASSISTANT_REQUEST:
        choice = await choose_assistant(tenant_id, integration_id, message, ports)
        return voice.answer_assistant_request(choice)
    results = await run_tool_calls(tenant_id, integration_id, message, ports, client(), on_line)
    return voice.answer_tool_calls(results)
