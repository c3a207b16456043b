"""A customer's timeline: what happened with them, from every part of the product, newest first.

Each part that knows about customers (their own history, appointments, quotes, invoices,
payments, and later calls and messages) is a *source*: a repository with a ``timeline`` method
(``ports.persistence.TimelineSource``) that answers its newest entries about one customer after
a keyset position. The merge of those answers into one page is a pure function here, so the
paging rule is proven once, whatever the storage.

A page is keyed by (occurred_at, id) like every other list: each source returns up to
``limit + 1`` entries strictly after the position, and the newest ``limit + 1`` of their union
hold the page and tell whether more exist. A source the principal may not read is not asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from switchboard.core.errors import NotFound
from switchboard.core.identity.model import Principal
from switchboard.core.pagination import Page, PageRequest, Position, page_from_overfetch
from switchboard.core.tenancy.permissions import Action, allows, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.persistence import TimelineSource, UnitOfWork

CUSTOMER_NOT_FOUND = "no customer with this id"


class TimelineKind(StrEnum):
    """What an entry is about: the customer record itself, or one of the things done with them."""

    CUSTOMER = "customer"
    CALL = "call"
    MESSAGE = "message"
    APPOINTMENT = "appointment"
    QUOTE = "quote"
    INVOICE = "invoice"
    PAYMENT = "payment"


@dataclass(frozen=True)
class TimelineRef:
    """The object an entry points at, for a client to fetch (``{"object": "invoice", "id": ...}``)."""

    object: str
    id: UUID


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    id: UUID  # unique across every source (each source's own row or event id)
    kind: TimelineKind
    summary: str  # one line for people; never a secret, never free text the customer wrote
    ref: TimelineRef


def position_of(entry: TimelineEntry) -> Position:
    return Position(entry.occurred_at, entry.id)


def _key(entry: TimelineEntry) -> tuple[datetime, UUID]:
    return entry.occurred_at, entry.id


def newest_after(entries: Iterable[TimelineEntry], after: Position | None, limit: int) -> list[TimelineEntry]:
    """What a source answers: at most ``limit`` entries, newest first, strictly after ``after``.

    The in-memory sources answer with it; the PostgreSQL ones run the same rule as SQL.
    """
    ordered = sorted(entries, key=_key, reverse=True)
    if after is not None:
        ordered = [e for e in ordered if _key(e) < (after.created_at, after.id)]
    return ordered[:limit]


def merge_newest_first(
    answers: Iterable[Sequence[TimelineEntry]], after: Position | None, limit: int
) -> Page[TimelineEntry]:
    """One page from what every source answered to ``(after, limit + 1)``.

    Pure. Entries at or before ``after`` are dropped (a source may not be trusted to have
    filtered), and an entry two sources both answered appears once.
    """
    unique = {entry.id: entry for answer in answers for entry in answer}
    candidates = [e for e in unique.values() if after is None or _key(e) < (after.created_at, after.id)]
    newest = sorted(candidates, key=_key, reverse=True)[: limit + 1]
    return page_from_overfetch(newest, limit, position_of)


@dataclass(frozen=True)
class Source:
    """One contributor: the kind of its entries, who may see them, and where it lives."""

    kind: TimelineKind
    action: Action  # a principal not allowed this action gets no entries of this kind
    repository: Callable[[UnitOfWork], TimelineSource]


# Every source wired today, each seen only by who may read its family. Calls and messages join
# with issue 6, through their repositories' ``timeline`` methods.
SOURCES: tuple[Source, ...] = (
    Source(TimelineKind.CUSTOMER, Action.CUSTOMERS_READ, lambda uow: uow.customers),
    Source(TimelineKind.APPOINTMENT, Action.SCHEDULING_READ, lambda uow: uow.appointments),
    Source(TimelineKind.QUOTE, Action.SALES_READ, lambda uow: uow.quotes),
    Source(TimelineKind.INVOICE, Action.SALES_READ, lambda uow: uow.invoices),
    Source(TimelineKind.PAYMENT, Action.SALES_READ, lambda uow: uow.payments),
    Source(TimelineKind.CALL, Action.CALLS_READ, lambda uow: uow.calls),
    Source(TimelineKind.MESSAGE, Action.MESSAGES_READ, lambda uow: uow.messages),
)


@dataclass(frozen=True)
class CustomerTimeline:
    customer_id: UUID
    page: PageRequest = field(default_factory=PageRequest)


async def customer_timeline(
    cmd: CustomerTimeline,
    principal: Principal,
    uow: UnitOfWork,
    sources: Sequence[Source] = SOURCES,
) -> Page[TimelineEntry]:
    require(principal, Action.CUSTOMERS_READ)
    readable = [source for source in sources if allows(principal, source.action)]
    after, limit = cmd.page.after, cmd.page.limit
    async with uow:
        if await uow.customers.get(cmd.customer_id) is None:
            raise NotFound(CUSTOMER_NOT_FOUND)
        answers = [
            await source.repository(uow).timeline(cmd.customer_id, after, limit + 1) for source in readable
        ]
    return merge_newest_first(answers, after, limit)


# --- the customer's own history, from the audit log ------------------------------------------

_HISTORY_SUMMARIES = {
    "customer.created": "Customer created",
    "customer.updated": "Customer updated",
}


def history_entry(
    event_id: UUID, occurred_at: datetime, action: str, changed_fields: Iterable[str], customer_id: UUID
) -> TimelineEntry:
    """An audit log entry about the customer as a timeline entry: what happened, and to which
    fields (their values stay in the audit log, for those who may read it)."""
    summary = _HISTORY_SUMMARIES.get(action, action)
    if action == "customer.updated":
        changed = ", ".join(sorted(changed_fields))
        summary = f"{summary}: {changed}" if changed else f"{summary} (nothing changed)"
    return TimelineEntry(
        occurred_at, event_id, TimelineKind.CUSTOMER, summary, TimelineRef("customer", customer_id)
    )
