"""The customer timeline's merge of sources, on its own, and the use case that asks them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.adapters.clock import SystemClock
from switchboard.adapters.memory.store import MemoryStore
from switchboard.adapters.memory.unit_of_work import MemoryUnitOfWork
from switchboard.core.customers import handlers
from switchboard.core.customers.timeline import (
    SOURCES,
    CustomerTimeline,
    Source,
    TimelineEntry,
    TimelineKind,
    TimelineRef,
    customer_timeline,
    history_entry,
    merge_newest_first,
    newest_after,
    position_of,
)
from switchboard.core.errors import NotFound, PermissionDenied
from switchboard.core.identity.model import Principal, User
from switchboard.core.pagination import PageRequest, Position
from switchboard.core.tenancy.model import Access, Membership, Role, Tenant
from switchboard.core.tenancy.permissions import Action

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
KINDS = list(TimelineKind)


def entry(
    at: datetime, kind: TimelineKind = TimelineKind.INVOICE, entry_id: UUID | None = None
) -> TimelineEntry:
    entry_id = entry_id or uuid4()
    return TimelineEntry(at, entry_id, kind, f"{kind} {entry_id.hex[:6]}", TimelineRef(kind.value, uuid4()))


def walk(sources: Sequence[Sequence[TimelineEntry]], limit: int) -> list[list[TimelineEntry]]:
    """Every page, each merged from what each source answers as its contract says."""
    pages: list[list[TimelineEntry]] = []
    after: Position | None = None
    while True:
        answers = [newest_after(source, after, limit + 1) for source in sources]
        page = merge_newest_first(answers, after, limit)
        pages.append(page.items)
        if not page.has_more:
            return pages
        assert page.next_position == position_of(page.items[-1])
        after = page.next_position
        assert len(pages) <= 1000, "paging does not end"


# Few distinct instants, so entries tie on occurred_at often, within and across sources.
instants = st.integers(min_value=0, max_value=8).map(lambda minutes: T0 + timedelta(minutes=minutes))
ids = st.integers(min_value=0, max_value=2**128 - 1).map(lambda n: UUID(int=n))
entries = st.builds(entry, instants, st.sampled_from(KINDS), ids)


@settings(max_examples=300)
@given(
    st.lists(entries, max_size=60, unique_by=lambda e: e.id),
    st.integers(min_value=1, max_value=7),
    st.integers(min_value=1, max_value=10),
    st.randoms(use_true_random=False),
)
def test_merging_paged_sources_yields_every_entry_once_newest_first(all_entries, sources, limit, rnd):
    split: list[list[TimelineEntry]] = [[] for _ in range(sources)]
    for item in all_entries:
        split[rnd.randrange(sources)].append(item)

    pages = walk(split, limit)

    merged = [item for page in pages for item in page]
    assert merged == sorted(all_entries, key=lambda e: (e.occurred_at, e.id), reverse=True)
    assert all(len(page) == limit for page in pages[:-1])
    assert len(pages[-1]) <= limit
    assert len(pages) == max(1, -(-len(all_entries) // limit))


def test_a_page_from_no_sources_is_empty_and_last():
    page = merge_newest_first([], None, 20)
    assert page.items == []
    assert not page.has_more


def test_entries_a_source_returns_at_or_before_the_position_are_dropped():
    newer, at_position, older = entry(T0 + timedelta(minutes=2)), entry(T0 + timedelta(minutes=1)), entry(T0)
    after = position_of(at_position)

    page = merge_newest_first([[newer, at_position, older]], after, 10)

    assert page.items == [older]


def test_an_entry_two_sources_return_appears_once():
    shared = entry(T0)
    assert merge_newest_first([[shared], [shared]], None, 10).items == [shared]


def test_ties_on_time_are_broken_by_id_descending_across_sources():
    low, high = entry(T0, entry_id=UUID(int=1)), entry(T0, entry_id=UUID(int=2))
    page = merge_newest_first([[low], [high]], None, 1)
    assert page.items == [high]
    assert page.next_position == Position(T0, UUID(int=2))
    assert merge_newest_first([[low], [high]], page.next_position, 1).items == [low]


@pytest.mark.parametrize(
    ("action", "fields", "summary"),
    [
        ("customer.created", ["name", "email"], "Customer created"),
        ("customer.updated", ["tags", "notes", "email"], "Customer updated: email, notes, tags"),
        ("customer.updated", [], "Customer updated (nothing changed)"),
        ("customer.merged", [], "customer.merged"),
    ],
)
def test_history_entries_say_what_happened_and_which_fields_changed_not_their_values(action, fields, summary):
    customer_id, event_id = uuid4(), uuid4()

    made = history_entry(event_id, T0, action, fields, customer_id)

    assert made == TimelineEntry(
        T0, event_id, TimelineKind.CUSTOMER, summary, TimelineRef("customer", customer_id)
    )


# --- the use case, on the in-memory adapter --------------------------------------------------------


@dataclass
class ListSource:
    """A stand-in for a repository of another kind (appointments, invoices): stored entries."""

    entries: list[TimelineEntry]

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        return newest_after(self.entries, after, limit)


@dataclass(frozen=True)
class World:
    store: MemoryStore
    owner: Principal

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.store, self.owner.tenant_id, self.owner.user_id)


async def a_world() -> World:
    store = MemoryStore()
    now = datetime.now(UTC)
    tenant = Tenant(uuid4(), "Acme", now, now)
    user = User(uuid4(), "owner@example.test", "Owner", now, now)
    async with MemoryUnitOfWork(store, tenant.id, user.id) as uow:
        await uow.tenants.add(tenant)
        await uow.users.add(user, None)
        await uow.memberships.add(Membership(tenant.id, user.id, Role.OWNER, now))
        await uow.commit()
    return World(store, Principal(user.id, tenant.id, Role.OWNER))


def api_key(world: World, **scopes: Access) -> Principal:
    return Principal(None, world.owner.tenant_id, None, api_key_id=uuid4(), scopes=scopes)


async def test_a_new_customer_has_one_entry_and_each_update_adds_one_newest_first():
    world = await a_world()
    clock = SystemClock()
    customer = await handlers.create_customer(
        handlers.CreateCustomer("Ada", phone="+14155550100"), world.owner, world.uow(), clock
    )
    await handlers.update_customer(
        handlers.UpdateCustomer(customer.id, {"tags": ["vip"], "preferred_channel": "sms"}),
        world.owner,
        world.uow(),
        clock,
    )

    page = await customer_timeline(CustomerTimeline(customer.id), world.owner, world.uow())

    assert [e.summary for e in page.items] == [
        "Customer updated: preferred_channel, tags",
        "Customer created",
    ]
    assert not page.has_more


async def test_the_sources_a_principal_may_not_read_are_not_asked():
    world = await a_world()
    customer = await handlers.create_customer(
        handlers.CreateCustomer("Ada"), world.owner, world.uow(), SystemClock()
    )
    invoice = entry(datetime.now(UTC) + timedelta(days=1))
    # Integrations stand for a family the key was not given: its entries stay out.
    sources = (
        *SOURCES,
        Source(TimelineKind.INVOICE, Action.INTEGRATIONS_READ, lambda uow: ListSource([invoice])),
    )

    for_owner = await customer_timeline(CustomerTimeline(customer.id), world.owner, world.uow(), sources)
    for_key = await customer_timeline(
        CustomerTimeline(customer.id), api_key(world, customers=Access.READ), world.uow(), sources
    )

    assert [e.kind for e in for_owner.items] == [TimelineKind.INVOICE, TimelineKind.CUSTOMER]
    assert [e.kind for e in for_key.items] == [TimelineKind.CUSTOMER]


async def test_the_timeline_pages_across_sources_with_the_position_of_the_last_entry():
    world = await a_world()
    customer = await handlers.create_customer(
        handlers.CreateCustomer("Ada"), world.owner, world.uow(), SystemClock()
    )
    now = datetime.now(UTC)
    others = [entry(now + timedelta(minutes=m)) for m in range(1, 6)]
    sources = (*SOURCES, Source(TimelineKind.INVOICE, Action.CUSTOMERS_READ, lambda uow: ListSource(others)))

    first = await customer_timeline(
        CustomerTimeline(customer.id, PageRequest(limit=4)), world.owner, world.uow(), sources
    )
    second = await customer_timeline(
        CustomerTimeline(customer.id, PageRequest(limit=4, after=first.next_position)),
        world.owner,
        world.uow(),
        sources,
    )

    assert first.items == others[::-1][:4]
    assert [e.summary for e in second.items] == [others[0].summary, "Customer created"]
    assert not second.has_more


async def test_the_timeline_of_an_unknown_customer_is_not_found():
    world = await a_world()
    with pytest.raises(NotFound):
        await customer_timeline(CustomerTimeline(uuid4()), world.owner, world.uow())


async def test_a_key_without_customer_read_may_not_read_a_timeline():
    world = await a_world()
    with pytest.raises(PermissionDenied):
        await customer_timeline(CustomerTimeline(uuid4()), api_key(world, tenant=Access.READ), world.uow())
