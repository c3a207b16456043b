"""The live-call answers: which agent takes an inbound call, and the business tools run mid-call.

A voice platform waits on these while a caller is on the line, so they are answered in the
request, not through the inbox: read with the tenant's own data, and run through the same use
cases, permission table, validation and audit log as the HTTP API.

The agent acts as a principal of its own (``Principal.voice_agent_id``) that may do exactly what
the tools of its *published* version need (``TOOL_ACTIONS``): a tool it was not given is refused
before anything runs, and a use case it reaches refuses any action outside that set. Its audit
entries name the agent and the call (``ActorType.VOICE_AGENT``, ``Actor.call_id``).

Platforms retry a tool call they got no answer to. Each result of a tool that changes something
is kept under the call's and the tool call's ids (in ``idempotency_keys``, under a key no HTTP
client can send, for 24 hours) and a retry gets the same answer instead of a second booking.
Every outcome a caller can hear about (a result, or a domain error such as a taken slot) is
kept; a failure of the system itself frees the key, so the platform's retry runs afresh. A tool
that only reads simply runs again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from switchboard.core.audit.model import Actor, ActorType, AuditContext
from switchboard.core.calls.calls import apply_call_message, record_call_message
from switchboard.core.calls.model import (
    AssistantChoice,
    BusinessTool,
    CallerContext,
    CallMessage,
    CallMessageKind,
    Speaker,
    ToolCall,
    ToolResult,
    TranscriptEntry,
)
from switchboard.core.calls.records import SWITCHBOARD_AGENT_ID, Call
from switchboard.core.customers import handlers as customers
from switchboard.core.customers.model import NOTES_MAX, Customer, normalize_phone
from switchboard.core.errors import DomainError, FieldError, InvalidInput, gather
from switchboard.core.identity.model import Client, Principal, normalize_email
from switchboard.core.pagination import PageRequest
from switchboard.core.queues.model import new_outbox_message
from switchboard.core.sales import handlers as sales
from switchboard.core.sales.currencies import format_money
from switchboard.core.sales.model import InvoiceFilter
from switchboard.core.sales.totals import LineInput
from switchboard.core.scheduling import handlers as scheduling
from switchboard.core.scheduling.model import Appointment, AppointmentFilter, Resource
from switchboard.core.tenancy.model import Role
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.core.calls.agents import Agent
    from switchboard.ports.clock import Clock
    from switchboard.ports.live_calls import ToolRunLedger
    from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory
    from switchboard.ports.scheduling import BusyTimes

# What each business tool needs from the permission table; an agent is allowed their union.
TOOL_ACTIONS: dict[BusinessTool, frozenset[Action]] = {
    BusinessTool.FIND_CUSTOMER: frozenset({Action.CUSTOMERS_READ, Action.SCHEDULING_READ}),
    BusinessTool.CHECK_AVAILABILITY: frozenset({Action.SCHEDULING_READ}),
    BusinessTool.BOOK_APPOINTMENT: frozenset({Action.SCHEDULING_WRITE, Action.SCHEDULING_READ}),
    BusinessTool.RESCHEDULE_APPOINTMENT: frozenset({Action.SCHEDULING_WRITE, Action.SCHEDULING_READ}),
    BusinessTool.CANCEL_APPOINTMENT: frozenset({Action.SCHEDULING_WRITE, Action.SCHEDULING_READ}),
    BusinessTool.CREATE_QUOTE_DRAFT: frozenset({Action.SALES_WRITE}),
    BusinessTool.TAKE_MESSAGE: frozenset({Action.CUSTOMERS_READ, Action.CUSTOMERS_WRITE}),
}

# Tools that only read: run again on a retry, they answer what is true now, so nothing is kept.
READ_ONLY_TOOLS = frozenset({BusinessTool.FIND_CUSTOMER, BusinessTool.CHECK_AVAILABILITY})

NO_AGENT = "Sorry, no one can take calls at this number right now. Please try again later."
RESULT_LIFETIME = timedelta(hours=24)
# A tool run that never stored its answer (the process died) may run again after this.
STALE_RUN = timedelta(minutes=1)
UPCOMING_SHOWN = 3
INVOICES_SHOWN = 3
CUSTOMERS_FOUND_MAX = 5
SLOTS_SHOWN = 10
RESOURCES_CHECKED = 10
NOTE_LINE_MAX = 2_000
_KEY_PREFIX = "voice tool "  # a space: the HTTP Idempotency-Key header can never carry one


@dataclass(frozen=True)
class LivePorts:
    units: UnitOfWorkFactory
    clock: Clock
    busy_times: BusyTimes
    ledger: ToolRunLedger


@dataclass(frozen=True)
class CallOnLine:
    """A known call with its agent and the tools the agent's published version was given."""

    call: Call
    agent: Agent | None
    tools: frozenset[BusinessTool]


@dataclass(frozen=True)
class HeldRun:
    """A tool call already claimed: with what arguments, and its kept answer (None while the
    first run is still under way)."""

    fingerprint: str
    answer: bytes | None


# --- assistant-request -------------------------------------------------------------------------


async def choose_assistant(
    tenant_id: UUID, integration_id: UUID, message: CallMessage, ports: LivePorts
) -> AssistantChoice:
    """The agent assigned to the called number, with what the business knows of the caller;
    a refusal when the number has no published agent. The call is recorded either way, once the
    platform has named it."""
    if message.provider_call_id:
        await record_call_message(tenant_id, integration_id, message, ports.units, ports.clock)
    number = _phone_or_none(message.business_number)
    async with ports.units(tenant_id) as uow:
        assigned = await uow.phone_numbers.find_by_number(number) if number else None
        agent = await uow.voice_agents.get(assigned.agent_id) if assigned and assigned.agent_id else None
        if agent is None or agent.published_version is None or agent.provider_agent_id is None:
            return AssistantChoice(None, refusal=NO_AGENT)
        caller = await _caller_context(uow, message.customer_number, ports.clock.now())
    return AssistantChoice(agent.provider_agent_id, caller)


async def _caller_context(uow: UnitOfWork, customer_number: str | None, now: datetime) -> CallerContext:
    number = _phone_or_none(customer_number)
    customer = await uow.customers.find_by_phone(number) if number else None
    if customer is None:
        return CallerContext(customer_id=None, name=None)
    upcoming = await _upcoming(uow, customer.id, now)
    zones = await _resources_of(uow, upcoming)
    invoices = await uow.invoices.list(PageRequest(limit=20), InvoiceFilter(customer_id=customer.id))
    open_invoices = [invoice for invoice in invoices.items if invoice.amount_due > 0][:INVOICES_SHOWN]
    return CallerContext(
        customer_id=str(customer.id),
        name=customer.name,
        upcoming_appointments=tuple(_appointment_line(a, zones[a.resource_id]) for a in upcoming),
        open_invoices=tuple(
            f"invoice {invoice.number}: {format_money(invoice.amount_due, invoice.currency)} due"
            + (f" by {invoice.due_date.isoformat()}" if invoice.due_date else "")
            for invoice in open_invoices
        ),
    )


# --- tool-calls --------------------------------------------------------------------------------


async def run_tool_calls(
    tenant_id: UUID,
    integration_id: UUID,
    message: CallMessage,
    ports: LivePorts,
    client: Client | None = None,
    on_line: CallOnLine | None = None,
) -> list[ToolResult]:
    """Each of the message's tool calls run as the call's agent, in order, one result each.

    ``on_line`` is the call as ``read_call_on_line`` found it, in a transaction the caller had
    open anyway (the webhook's verification); None when the call is not known yet, and it is
    recorded first."""
    if on_line is None:
        if not message.provider_call_id:
            raise InvalidInput.single("provider_call_id", "the message names no call")
        async with ports.units(tenant_id) as uow:
            call = await apply_call_message(uow, tenant_id, integration_id, message, ports.clock.now())
            on_line = await _with_agent(uow, call, message)
            await uow.commit()
    call, agent, tools = on_line.call, on_line.agent, on_line.tools
    results: list[ToolResult] = []
    answers: dict[str, bytes] = {}  # ledger key -> answer, kept with the transcript lines
    try:
        for tool_call in message.tool_calls:
            if agent is None:
                results.append(_error(tool_call, "no agent of this business is on this call"))
                continue
            results.append(
                await _run_once(
                    tenant_id, integration_id, call, agent, tools, tool_call, ports, client, answers
                )
            )
    finally:
        # Even when a later tool call failed, the answers of those that ran are kept, so that
        # a retry does not run them twice.
        await _keep(tenant_id, integration_id, call, message, results, answers, ports)
    return results


async def read_call_on_line(uow: UnitOfWork, integration_id: UUID, message: CallMessage) -> CallOnLine | None:
    """The message's call with its agent and tools, or None when the call is not known yet."""
    if not message.provider_call_id:
        return None
    call = await uow.calls.find_by_provider_call_id(integration_id, message.provider_call_id)
    return await _with_agent(uow, call, message) if call is not None else None


async def _with_agent(uow: UnitOfWork, call: Call, message: CallMessage) -> CallOnLine:
    agent = await _agent_of(uow, call, message)
    tools = await _published_tools(uow, agent) if agent is not None else frozenset()
    return CallOnLine(call, agent, tools)


async def _agent_of(uow: UnitOfWork, call: Call, message: CallMessage) -> Agent | None:
    """The call's agent: as recorded, else as named by what Switchboard put on the call or by
    the platform's id of it."""
    if call.agent_id is not None:
        return await uow.voice_agents.get(call.agent_id)
    named = message.metadata.get(SWITCHBOARD_AGENT_ID)
    if named:
        try:
            return await uow.voice_agents.get(UUID(named))
        except ValueError:
            pass
    if message.provider_agent_id:
        return await uow.voice_agents.find_by_provider_agent_id(message.provider_agent_id)
    return None


async def _published_tools(uow: UnitOfWork, agent: Agent) -> frozenset[BusinessTool]:
    """The tools of the version the platform runs: an edit not yet published grants nothing."""
    if agent.published_version is None:
        return frozenset()
    if agent.published_version == agent.current_version:
        return frozenset(agent.tools)
    version = await uow.agent_versions.get(agent.id, agent.published_version)
    return frozenset(version.settings.tools) if version is not None else frozenset()


async def _run_once(
    tenant_id: UUID,
    integration_id: UUID,
    call: Call,
    agent: Agent,
    tools: frozenset[BusinessTool],
    tool_call: ToolCall,
    ports: LivePorts,
    client: Client | None,
    answers: dict[str, bytes],
) -> ToolResult:
    """The tool call's outcome. A tool that changes something runs once per tool call id: its
    answer is added to ``answers``, for the caller to keep (``ToolRunLedger.complete``)."""
    try:
        tool = BusinessTool(tool_call.name)
    except ValueError:
        return _error(tool_call, f"there is no tool called {tool_call.name}")
    if tool not in tools:
        return _error(tool_call, f"this agent may not use {tool.value}")
    principal = Principal(
        user_id=None,
        tenant_id=tenant_id,
        role=None,
        voice_agent_id=agent.id,
        agent_actions=frozenset(action.value for given in tools for action in TOOL_ACTIONS[given]),
    )
    context = AuditContext(Actor(ActorType.VOICE_AGENT, agent.id, call_id=call.id), client or Client())
    run = _Run(principal, lambda: ports.units(tenant_id, None, context), ports, call)

    if tool in READ_ONLY_TOOLS:
        return await _outcome(tool, tool_call, run)

    key = _KEY_PREFIX + _digest(str(integration_id), call.provider_call_id or str(call.id), tool_call.id)
    fingerprint = _digest(tool.value, json.dumps(tool_call.arguments, sort_keys=True, default=str))
    ledger = ports.ledger
    held = await ledger.claim(tenant_id, key, fingerprint, run.now, RESULT_LIFETIME, STALE_RUN)
    if held is not None:
        return _replayed(tool_call, held, fingerprint)
    try:
        outcome = await _outcome(tool, tool_call, run)
    except BaseException:
        await ledger.release(tenant_id, key)
        raise
    answers[key] = _stored(outcome)
    return outcome


async def _outcome(tool: BusinessTool, tool_call: ToolCall, run: _Run) -> ToolResult:
    """The tool's result, or the domain error it met, in words the agent can say."""
    try:
        return ToolResult(tool_call.id, tool.value, result=await RUNNERS[tool](run, tool_call.arguments))
    except DomainError as error:
        return _error(tool_call, _spoken(error))


@dataclass(frozen=True)
class _Run:
    """One tool run: the agent's principal, fresh units of work audited as the agent, the call."""

    principal: Principal
    unit: Callable[[], UnitOfWork]
    ports: LivePorts
    call: Call

    @property
    def now(self) -> datetime:
        return self.ports.clock.now()


def _stored(outcome: ToolResult) -> bytes:
    return json.dumps({"result": outcome.result, "error": outcome.error}, default=str).encode()


def _replayed(tool_call: ToolCall, held: HeldRun, fingerprint: str) -> ToolResult:
    if held.fingerprint != fingerprint:
        return _error(tool_call, "this tool call id was already used with other arguments")
    if held.answer is None:
        return _error(tool_call, "this request is still being handled; ask again in a moment")
    stored = json.loads(held.answer)
    return ToolResult(tool_call.id, tool_call.name, result=stored["result"], error=stored["error"])


async def _keep(
    tenant_id: UUID,
    integration_id: UUID,
    call: Call,
    message: CallMessage,
    results: list[ToolResult],
    answers: dict[str, bytes],
    ports: LivePorts,
) -> None:
    """In one transaction: the answers of the tools that changed something, for retries, and
    each tool call with its outcome as a TOOL line of the call's transcript."""
    if not results and not answers:
        return
    now = ports.clock.now()
    async with ports.units(tenant_id) as uow:
        for key, answer in answers.items():
            await ports.ledger.complete(uow, key, answer)
        if results:
            note = _transcript_note(call, message, results, now)
            await apply_call_message(uow, tenant_id, integration_id, note, now, known=call)
        await uow.commit()


def _transcript_note(
    call: Call, message: CallMessage, results: list[ToolResult], now: datetime
) -> CallMessage:
    began = call.started_at or call.created_at
    at = max(0.0, (now - began).total_seconds())
    entries = tuple(
        TranscriptEntry(Speaker.TOOL, _transcript_line(result), seconds_from_start=at) for result in results
    )
    return CallMessage(
        kind=CallMessageKind.TRANSCRIPT,
        provider_call_id=message.provider_call_id,
        direction=message.direction,
        metadata=message.metadata,
        transcript=entries,
        started_at=began,  # the lines' base: kept as the start when the call has none yet
    )


def _transcript_line(result: ToolResult) -> str:
    if result.error is not None:
        return f"{result.name} failed: {result.error}"
    return f"{result.name}: {json.dumps(result.result, sort_keys=True, default=str)}"[:NOTE_LINE_MAX]


def _error(tool_call: ToolCall, message: str) -> ToolResult:
    return ToolResult(tool_call.id, tool_call.name, error=message)


def _spoken(error: DomainError) -> str:
    if isinstance(error, InvalidInput):
        return "invalid arguments: " + "; ".join(f"{e.field}: {e.message}" for e in error.errors)
    return error.detail


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# --- the tools -----------------------------------------------------------------------------------


async def _find_customer(run: _Run, args: Mapping[str, Any]) -> dict[str, Any]:
    given = _arguments(args, {"phone", "email", "name"})
    checked = _checked(
        {
            "phone": lambda: normalize_phone(given["phone"]) if "phone" in given else None,
            "email": lambda: normalize_email(_text(given, "email", 254)) if "email" in given else None,
            "name": lambda: _text(given, "name", 200) if "name" in given else None,
        }
    )
    if not any(checked.values()):
        raise InvalidInput.single("phone", "give a phone number, an email or a name to look for")
    require(run.principal, Action.CUSTOMERS_READ)
    require(run.principal, Action.SCHEDULING_READ)
    searched: list[Customer] = []
    for query in (checked["email"], checked["name"]):
        if query:
            page = await customers.list_customers(
                customers.ListCustomers(page=PageRequest(limit=CUSTOMERS_FOUND_MAX), q=query),
                run.principal,
                run.unit(),
            )
            searched += page.items
    matches = []
    # The match by phone (the usual question: who is calling) is read in the same transaction
    # as the appointments of everyone found, and listed first.
    async with run.unit() as uow:
        by_phone = await uow.customers.find_by_phone(checked["phone"]) if checked["phone"] else None
        found: list[Customer] = []
        for customer in ([by_phone] if by_phone else []) + searched:
            if all(customer.id != known.id for known in found):
                found.append(customer)
        for customer in found[:CUSTOMERS_FOUND_MAX]:
            upcoming = await _upcoming(uow, customer.id, run.now)
            resources = await _resources_of(uow, upcoming)
            matches.append(
                {
                    "customer_id": str(customer.id),
                    "name": customer.name,
                    "phone": customer.phone,
                    "email": customer.email,
                    "upcoming_appointments": [
                        _appointment_out(a, resources[a.resource_id]) for a in upcoming
                    ],
                }
            )
    return {"count": len(matches), "customers": matches}


async def _check_availability(run: _Run, args: Mapping[str, Any]) -> dict[str, Any]:
    given = _arguments(args, {"window_start", "window_end", "duration_minutes", "resource_id"})
    checked = _checked(
        {
            "window_start": lambda: _instant(given, "window_start"),
            "window_end": lambda: _instant(given, "window_end"),
            "duration_minutes": lambda: _whole(given, "duration_minutes", 5, 480),
            "resource_id": lambda: _id(given, "resource_id", required=False),
        }
    )
    if checked["resource_id"] is not None:
        resource_ids = [checked["resource_id"]]
    else:
        page = await scheduling.list_resources(
            scheduling.ListResources(page=PageRequest(limit=RESOURCES_CHECKED)), run.principal, run.unit()
        )
        resource_ids = [resource.id for resource in page.items]
    found = []
    for resource_id in resource_ids:
        availability = await scheduling.find_slots(
            scheduling.FindSlots(
                resource_id, checked["window_start"], checked["window_end"], checked["duration_minutes"]
            ),
            run.principal,
            run.unit(),
            run.ports.clock,
            run.ports.busy_times,
        )
        zone = ZoneInfo(availability.resource.time_zone)
        found.append(
            {
                "resource_id": str(availability.resource.id),
                "resource_name": availability.resource.name,
                "time_zone": availability.resource.time_zone,
                "slots": [
                    {"start": _local(slot.start, zone), "end": _local(slot.end, zone)}
                    for slot in availability.slots[:SLOTS_SHOWN]
                ],
            }
        )
    return {"resources": found}


async def _book_appointment(run: _Run, args: Mapping[str, Any]) -> dict[str, Any]:
    given = _arguments(args, {"customer_id", "resource_id", "start", "duration_minutes", "service", "notes"})
    checked = _checked(
        {
            "customer_id": lambda: _id(given, "customer_id"),
            "resource_id": lambda: _id(given, "resource_id"),
            "start": lambda: _instant(given, "start"),
            "duration_minutes": lambda: _whole(given, "duration_minutes", 5, 480),
            "service": lambda: _text(given, "service", 200),
            "notes": lambda: _text(given, "notes", 2000) if "notes" in given else None,
        }
    )
    start = checked["start"]
    appointment = await scheduling.book_appointment(
        scheduling.BookAppointment(
            resource_id=checked["resource_id"],
            customer_id=checked["customer_id"],
            service=checked["service"],
            start=start,
            end=start + timedelta(minutes=checked["duration_minutes"]),
            notes=checked["notes"],
        ),
        run.principal,
        run.unit(),
        run.ports.clock,
        run.ports.busy_times,
    )
    return await _appointment_result(run, appointment)


async def _reschedule_appointment(run: _Run, args: Mapping[str, Any]) -> dict[str, Any]:
    given = _arguments(args, {"appointment_id", "start", "duration_minutes"})
    checked = _checked(
        {
            "appointment_id": lambda: _id(given, "appointment_id"),
            "start": lambda: _instant(given, "start"),
            "duration_minutes": lambda: (
                _whole(given, "duration_minutes", 5, 480) if "duration_minutes" in given else None
            ),
        }
    )
    current = await scheduling.get_appointment(checked["appointment_id"], run.principal, run.unit())
    length = (
        timedelta(minutes=checked["duration_minutes"])
        if checked["duration_minutes"] is not None
        else current.ends_at - current.starts_at
    )
    moved = await scheduling.update_appointment(
        scheduling.UpdateAppointment(
            current.id,
            {"start": checked["start"], "end": checked["start"] + length},
            if_match=current.version,
        ),
        run.principal,
        run.unit(),
        run.ports.clock,
        run.ports.busy_times,
    )
    return await _appointment_result(run, moved)


async def _cancel_appointment(run: _Run, args: Mapping[str, Any]) -> dict[str, Any]:
    given = _arguments(args, {"appointment_id"})
    appointment_id = _checked({"appointment_id": lambda: _id(given, "appointment_id")})["appointment_id"]
    cancelled = await scheduling.change_status(
        scheduling.ChangeStatus(appointment_id, "cancelled"), run.principal, run.unit(), run.ports.clock
    )
    return await _appointment_result(run, cancelled)


async def _create_quote_draft(run: _Run, args: Mapping[str, Any]) -> dict[str, Any]:
    given = _arguments(args, {"customer_id", "lines", "notes"})
    checked = _checked(
        {
            "customer_id": lambda: _id(given, "customer_id"),
            "lines": lambda: _lines(given),
            "notes": lambda: _text(given, "notes", 2000) if "notes" in given else None,
        }
    )
    quote = await sales.create_quote(
        sales.CreateQuote(customer_id=checked["customer_id"], lines=checked["lines"], notes=checked["notes"]),
        run.principal,
        run.unit(),
        run.ports.clock,
    )
    return {
        "quote_id": str(quote.id),
        "number": quote.number,
        "status": quote.status.value,
        "total": quote.totals.total,
        "currency": quote.currency,
        "total_text": format_money(quote.totals.total, quote.currency),
        "valid_until": quote.valid_until.isoformat() if quote.valid_until else None,
    }


async def _take_message(run: _Run, args: Mapping[str, Any]) -> dict[str, Any]:
    """The message goes on the customer's record (a note, newest first; a new customer for an
    unknown caller, named as they gave it) and is mailed to the tenant's owners and admins
    through the outbox."""
    given = _arguments(args, {"message", "caller_name", "callback_number", "customer_id", "urgent"})
    checked = _checked(
        {
            "message": lambda: _text(given, "message", 2000),
            "caller_name": lambda: _text(given, "caller_name", 200) if "caller_name" in given else None,
            "callback_number": lambda: (
                normalize_phone(given["callback_number"], "callback_number")
                if "callback_number" in given
                else None
            ),
            "customer_id": lambda: _id(given, "customer_id", required=False),
            "urgent": lambda: _flag(given, "urgent"),
        }
    )
    callback = checked["callback_number"] or _phone_or_none(run.call.customer_number)
    customer = await _message_customer(run, checked["customer_id"], callback, checked["caller_name"])
    stamp = run.now.strftime("%Y-%m-%d %H:%M UTC")
    urgent = "URGENT " if checked["urgent"] else ""
    line = f"[{stamp}] {urgent}message taken by the voice agent: {checked['message']}"
    if callback:
        line += f" (call back on {callback})"
    notes = line if not customer.notes else f"{line}\n{customer.notes}"
    updated = await customers.update_customer(
        customers.UpdateCustomer(customer.id, {"notes": notes[:NOTES_MAX]}),
        run.principal,
        run.unit(),
        run.ports.clock,
    )
    told = await _mail_the_team(run, updated, checked["message"], callback, checked["urgent"])
    return {"customer_id": str(updated.id), "customer_name": updated.name, "team_notified": told}


async def _message_customer(
    run: _Run, customer_id: UUID | None, callback: str | None, caller_name: str | None
) -> Customer:
    if customer_id is not None:
        return await customers.get_customer(customer_id, run.principal, run.unit())
    if callback is not None:
        require(run.principal, Action.CUSTOMERS_READ)
        async with run.unit() as uow:
            known = await uow.customers.find_by_phone(callback)
        if known is not None:
            return known
    if callback is None and caller_name is None:
        raise InvalidInput.single("callback_number", "is needed to take a message from an unknown caller")
    return await customers.create_customer(
        customers.CreateCustomer(name=caller_name or f"Caller {callback}", phone=callback),
        run.principal,
        run.unit(),
        run.ports.clock,
    )


async def _mail_the_team(
    run: _Run, customer: Customer, message: str, callback: str | None, urgent: bool
) -> int:
    """One email per owner and admin, queued in the outbox; how many were queued."""
    now = run.now
    subject = f"{'Urgent: ' if urgent else ''}message from {customer.name} (voice agent)"
    text = "\n".join(
        [
            f"{customer.name} left a message during a call on {now.strftime('%Y-%m-%d %H:%M UTC')}:",
            "",
            message,
            "",
            f"Call back on: {callback or customer.phone or 'no number given'}",
            f"Customer id: {customer.id}",
            f"Call id: {run.call.id}",
        ]
    )
    async with run.unit() as uow:
        team = [m for m in await uow.memberships.list() if m.role in (Role.OWNER, Role.ADMIN)]
        for member in team:
            payload = {"to": member.email, "subject": subject, "text": text}
            await uow.outbox.add(new_outbox_message(run.principal.tenant_id, sales.EMAIL_KIND, payload, now))
        await uow.commit()
    return len(team)


RUNNERS: dict[BusinessTool, Callable[[_Run, Mapping[str, Any]], Awaitable[dict[str, Any]]]] = {
    BusinessTool.FIND_CUSTOMER: _find_customer,
    BusinessTool.CHECK_AVAILABILITY: _check_availability,
    BusinessTool.BOOK_APPOINTMENT: _book_appointment,
    BusinessTool.RESCHEDULE_APPOINTMENT: _reschedule_appointment,
    BusinessTool.CANCEL_APPOINTMENT: _cancel_appointment,
    BusinessTool.CREATE_QUOTE_DRAFT: _create_quote_draft,
    BusinessTool.TAKE_MESSAGE: _take_message,
}


# --- reading appointments and arguments ------------------------------------------------------------


async def _upcoming(uow: UnitOfWork, customer_id: UUID, now: datetime) -> list[Appointment]:
    """The customer's next few appointments that are still on, soonest first."""
    page = await uow.appointments.list(
        AppointmentFilter(customer_id=customer_id, starts_after=now), PageRequest(limit=50)
    )
    return sorted((a for a in page.items if not a.final), key=lambda a: a.starts_at)[:UPCOMING_SHOWN]


async def _resources_of(uow: UnitOfWork, appointments: list[Appointment]) -> dict[UUID, Resource]:
    resources: dict[UUID, Resource] = {}
    for resource_id in dict.fromkeys(a.resource_id for a in appointments):
        resource = await uow.resources.get(resource_id)
        if resource is not None:
            resources[resource_id] = resource
    return resources


async def _appointment_result(run: _Run, appointment: Appointment) -> dict[str, Any]:
    resource = await scheduling.get_resource(appointment.resource_id, run.principal, run.unit())
    return _appointment_out(appointment, resource)


def _appointment_out(appointment: Appointment, resource: Resource) -> dict[str, Any]:
    zone = ZoneInfo(resource.time_zone)
    return {
        "appointment_id": str(appointment.id),
        "status": appointment.status.value,
        "service": appointment.service,
        "resource_id": str(resource.id),
        "resource_name": resource.name,
        "start": _local(appointment.starts_at, zone),
        "end": _local(appointment.ends_at, zone),
        "spoken": _spoken_time(appointment.starts_at, zone),
    }


def _appointment_line(appointment: Appointment, resource: Resource) -> str:
    zone = ZoneInfo(resource.time_zone)
    return f"{appointment.service} with {resource.name} on {_spoken_time(appointment.starts_at, zone)}"


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).isoformat(timespec="minutes")


def _spoken_time(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local.strftime('%A %d %B %Y at %H:%M')} ({zone.key})"


def _phone_or_none(number: str | None) -> str | None:
    """A number in E.164, or None for a withheld or malformed one (a caller may hide theirs)."""
    if not number:
        return None
    try:
        return normalize_phone(number)
    except InvalidInput:
        return None


def _arguments(args: Mapping[str, Any], allowed: set[str]) -> dict[str, Any]:
    """The arguments the tool takes; an unknown one is refused, as the HTTP API refuses unknown
    fields. A null counts as not given (models send them for optional parameters)."""
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise InvalidInput([FieldError(name, "is not a parameter of this tool") for name in unknown])
    return {name: value for name, value in args.items() if value is not None}


def _text(args: Mapping[str, Any], name: str, longest: int) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput.single(name, "is required text")
    if len(value) > longest:
        raise InvalidInput.single(name, f"must be at most {longest} characters")
    return value.strip()


def _id(args: Mapping[str, Any], name: str, *, required: bool = True) -> UUID | None:
    value = args.get(name)
    if value is None and not required:
        return None
    try:
        return UUID(str(value)) if isinstance(value, str) else _refuse(name, "is required")
    except ValueError:
        raise InvalidInput.single(name, "must be an id from an earlier answer") from None


def _instant(args: Mapping[str, Any], name: str) -> datetime:
    value = args.get(name)
    if not isinstance(value, str):
        raise InvalidInput.single(name, "is required: an ISO 8601 date-time with its UTC offset")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput.single(
            name, "must be an ISO 8601 date-time such as 2026-03-14T09:30:00-05:00"
        ) from None
    if at.tzinfo is None:
        raise InvalidInput.single(name, "must carry its UTC offset, such as -05:00 or Z")
    return at.astimezone(UTC)


def _whole(args: Mapping[str, Any], name: str, least: int, most: int) -> int:
    value = args.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= most:
        raise InvalidInput.single(name, f"must be a whole number from {least} to {most}")
    return value


def _flag(args: Mapping[str, Any], name: str) -> bool:
    value = args.get(name, False)
    if not isinstance(value, bool):
        raise InvalidInput.single(name, "must be true or false")
    return value


def _lines(args: Mapping[str, Any]) -> list[LineInput]:
    lines = args.get("lines")
    if not isinstance(lines, list) or not 1 <= len(lines) <= 50:
        raise InvalidInput.single("lines", "must list from 1 to 50 items")
    result = []
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        if not isinstance(line, dict) or set(line) - {"description", "quantity", "unit_price"}:
            raise InvalidInput.single(where, "must have only description, quantity and unit_price")
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int | float) or quantity <= 0:
            raise InvalidInput.single(f"{where}.quantity", "must be a number above zero")
        price = line.get("unit_price")
        if isinstance(price, bool) or not isinstance(price, int) or price < 0:
            raise InvalidInput.single(f"{where}.unit_price", "must be a whole number of minor units (cents)")
        description = _text(line, "description", 500)
        result.append(LineInput(description=description, quantity=str(quantity), unit_price=price))
    return result


def _checked(checks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Every argument checked, then one refusal naming all the problems found."""
    return gather(checks)


def _refuse(name: str, message: str) -> Any:
    raise InvalidInput.single(name, message)
