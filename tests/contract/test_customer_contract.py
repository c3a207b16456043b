"""Customers: round trips, optimistic updates, tenant isolation, keyset pagination and search."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from switchboard.core.audit.model import AuditFilter
from switchboard.core.customers.model import Address, ContactChannel, Customer
from switchboard.core.customers.timeline import TimelineKind, TimelineRef
from switchboard.core.pagination import PageRequest, Position
from tests.contract.conftest import Actor, Storage, make_customer, utc_now

# --- round trips and optimistic updates --------------------------------------------------------


async def test_a_customer_reads_back_equal_to_what_was_added(storage: Storage):
    actor = await storage.new_tenant()
    full = make_customer(actor.tenant_id, name="Ada Lovelace", email="ada@example.test", phone="+14155550123")
    bare = make_customer(actor.tenant_id, name="Nobody Yet")

    await storage.add_customers(actor, full, bare)

    assert await storage.get_customer(actor, full.id) == full
    assert await storage.get_customer(actor, bare.id) == bare


async def test_a_customer_read_for_update_is_the_same_customer(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id)
    await storage.add_customers(actor, customer)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.customers.get(customer.id, for_update=True) == customer


async def test_an_unknown_customer_reads_as_none(storage: Storage):
    actor = await storage.new_tenant()
    assert await storage.get_customer(actor, make_customer(actor.tenant_id).id) is None


async def test_an_update_with_the_current_version_is_stored(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id, name="Before")
    await storage.add_customers(actor, customer)
    changed = replace(
        customer,
        name="After",
        email="after@example.test",
        phone="+442071234567",
        updated_at=customer.updated_at + timedelta(minutes=5),
        version=customer.version + 1,
    )

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.customers.update(changed, expected_version=customer.version) is True
        await uow.commit()

    assert await storage.get_customer(actor, customer.id) == changed


async def test_an_update_with_a_stale_version_changes_nothing(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id, name="Original")
    await storage.add_customers(actor, customer)
    first = replace(customer, name="First writer", version=2)
    second = replace(customer, name="Second writer", version=2)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.customers.update(first, expected_version=1) is True
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.customers.update(second, expected_version=1) is False
        await uow.commit()

    assert await storage.get_customer(actor, customer.id) == first


async def test_an_update_of_an_unknown_customer_reports_false(storage: Storage):
    actor = await storage.new_tenant()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.customers.update(make_customer(actor.tenant_id), expected_version=1) is False


async def test_delete_removes_the_customer_and_says_so(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id)
    await storage.add_customers(actor, customer)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.customers.delete(customer.id) is True
        await uow.commit()

    assert await storage.get_customer(actor, customer.id) is None
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.customers.delete(customer.id) is False


async def test_add_many_stores_every_customer(storage: Storage):
    actor = await storage.new_tenant()
    start = utc_now()
    batch = [make_customer(actor.tenant_id, created_at=start - timedelta(seconds=i)) for i in range(25)]

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.customers.add_many(batch)
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        page = await uow.customers.list(PageRequest(limit=100))
        for customer in batch:
            assert await uow.customers.get(customer.id) == customer
    assert page.items == batch  # already newest first
    assert not page.has_more


async def test_adding_a_customer_whose_id_is_taken_is_refused(storage: Storage):
    actor = await storage.new_tenant()
    original = make_customer(actor.tenant_id, name="Original")
    await storage.add_customers(actor, original)

    with pytest.raises(Exception):  # noqa: B017, PT011 (adapters raise their own error types)
        await storage.commit_work(
            actor.tenant_id, actor.user_id, lambda uow: uow.customers.add(replace(original, name="Impostor"))
        )

    assert await storage.get_customer(actor, original.id) == original


async def test_a_customer_cannot_belong_to_a_tenant_that_does_not_exist(storage: Storage):
    actor = await storage.new_tenant()
    ghost_tenant = uuid4()  # no tenant has this id
    orphan = make_customer(ghost_tenant)

    with pytest.raises(Exception):  # noqa: B017, PT011 (adapters raise their own error types)
        await storage.commit_work(ghost_tenant, actor.user_id, lambda uow: uow.customers.add(orphan))

    async with storage.units(ghost_tenant, actor.user_id) as uow:
        assert await uow.customers.get(orphan.id) is None


# --- tenant isolation ---------------------------------------------------------------------------


async def test_a_customer_of_another_tenant_cannot_be_read_listed_changed_or_deleted(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    theirs = make_customer(a.tenant_id, name="Shared Name Ltd", email="shared@example.test")
    await storage.add_customers(a, theirs)

    async with storage.units(b.tenant_id, b.user_id) as uow:
        assert await uow.customers.get(theirs.id) is None
        assert await uow.customers.get(theirs.id, for_update=True) is None
        assert theirs not in (await uow.customers.list(PageRequest(limit=100))).items
        assert (await uow.customers.list(PageRequest(limit=100), search="Shared Name")).items == []
        hijacked = replace(theirs, name="Hijacked", version=theirs.version + 1)
        assert await uow.customers.update(hijacked, expected_version=theirs.version) is False
        assert await uow.customers.update(replace(hijacked, tenant_id=b.tenant_id), theirs.version) is False
        assert await uow.customers.delete(theirs.id) is False
        await uow.commit()

    assert await storage.get_customer(a, theirs.id) == theirs


async def test_adding_a_customer_for_another_tenant_is_refused_and_stores_nothing(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    smuggled = make_customer(b.tenant_id)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await storage.commit_work(a.tenant_id, a.user_id, lambda uow: uow.customers.add(smuggled))

    assert await storage.get_customer(b, smuggled.id) is None
    assert await storage.get_customer(a, smuggled.id) is None


async def test_add_many_refuses_a_batch_holding_another_tenants_customer(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    own = make_customer(a.tenant_id)
    smuggled = make_customer(b.tenant_id)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await storage.commit_work(a.tenant_id, a.user_id, lambda uow: uow.customers.add_many([own, smuggled]))

    assert await storage.get_customer(a, own.id) is None
    assert await storage.get_customer(b, smuggled.id) is None


# --- keyset pagination --------------------------------------------------------------------------


async def _seed_for_paging(storage: Storage, actor: Actor) -> list[Customer]:
    """Nine customers: seven distinct times, and a pair sharing one that straddles a page boundary."""
    start = utc_now() - timedelta(hours=1)
    minutes_ago = [0, 1, 2, 2, 3, 4, 5, 6, 7]
    customers = [make_customer(actor.tenant_id, created_at=start - timedelta(minutes=m)) for m in minutes_ago]
    shuffled = customers[:]
    random.shuffle(shuffled)  # insertion order must not matter
    await storage.add_customers(actor, *shuffled)
    return sorted(customers, key=lambda c: (c.created_at, c.id), reverse=True)


async def _walk(
    storage: Storage, actor: Actor, limit: int, search: str | None = None
) -> list[list[Customer]]:
    pages: list[list[Customer]] = []
    after: Position | None = None
    while True:
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            page = await uow.customers.list(PageRequest(limit=limit, after=after), search)
        pages.append(page.items)
        if not page.has_more:
            return pages
        assert len(page.items) == limit
        assert page.next_position == Position(page.items[-1].created_at, page.items[-1].id)
        after = page.next_position
        assert len(pages) < 50, "pagination does not end"


async def test_pages_hold_every_customer_once_newest_first_with_ties_broken_by_id(storage: Storage):
    actor = await storage.new_tenant()
    expected = await _seed_for_paging(storage, actor)
    tied = [c for c in expected if c.created_at == expected[2].created_at]
    assert len(tied) == 2
    assert expected[2:4] == tied

    pages = await _walk(storage, actor, limit=3)

    assert [len(p) for p in pages] == [3, 3, 3]
    assert [c for page in pages for c in page] == expected


async def test_a_page_that_ends_exactly_at_the_last_customer_has_no_more(storage: Storage):
    actor = await storage.new_tenant()
    expected = await _seed_for_paging(storage, actor)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        page = await uow.customers.list(PageRequest(limit=len(expected)))

    assert page.items == expected
    assert not page.has_more
    assert page.next_position is None


async def test_a_tenant_without_customers_lists_one_empty_last_page(storage: Storage):
    actor = await storage.new_tenant()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        page = await uow.customers.list(PageRequest(limit=3))
    assert page.items == []
    assert not page.has_more


async def test_a_customer_added_between_pages_neither_repeats_nor_skips_the_others(storage: Storage):
    actor = await storage.new_tenant()
    expected = await _seed_for_paging(storage, actor)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        first = await uow.customers.list(PageRequest(limit=3))
    newcomer = make_customer(actor.tenant_id, created_at=utc_now())
    await storage.add_customers(actor, newcomer)

    seen = list(first.items)
    after = first.next_position
    while after is not None:
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            page = await uow.customers.list(PageRequest(limit=3, after=after))
        seen.extend(page.items)
        after = page.next_position

    assert seen == expected


# --- search -------------------------------------------------------------------------------------


async def _seed_for_search(storage: Storage, actor: Actor) -> dict[str, Customer]:
    start = utc_now() - timedelta(hours=1)
    rows = [
        ("Ada Lovelace", "ada@analytical.example", "+441234567890"),
        ("Grace Hopper", "GRACE@Navy.Example", "+15550001111"),
        ("100% Plumbing", None, None),
        ("snake_case Ltd", None, None),
        ("snakeXcase Inc", None, None),
        ("Back\\slash & Co", None, None),
        ("Percival Plain", "percival@plain.example", None),
        ("Émile Café", None, None),
    ]
    customers = {
        name: make_customer(
            actor.tenant_id, name=name, email=email, phone=phone, created_at=start - timedelta(minutes=i)
        )
        for i, (name, email, phone) in enumerate(rows)
    }
    await storage.add_customers(actor, *customers.values())
    return customers


async def _search(storage: Storage, actor: Actor, text: str) -> list[str]:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        page = await uow.customers.list(PageRequest(limit=100), search=text)
    return [c.name for c in page.items]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        pytest.param("lovelace", ["Ada Lovelace"], id="name-lower"),
        pytest.param("GRACE HOP", ["Grace Hopper"], id="name-upper"),
        pytest.param("navy.example", ["Grace Hopper"], id="email-stored-mixed-case"),
        pytest.param("ANALYTICAL", ["Ada Lovelace"], id="email-upper"),
        pytest.param("0001111", ["Grace Hopper"], id="phone-middle"),
        pytest.param("+44", ["Ada Lovelace"], id="phone-prefix"),
        pytest.param("plain", ["Percival Plain"], id="name-and-email-once"),
        pytest.param("CAFÉ", ["Émile Café"], id="non-ascii-upper"),
        pytest.param("émile", ["Émile Café"], id="non-ascii-lower"),
        pytest.param("zzz-nothing", [], id="no-match"),
    ],
)
async def test_search_matches_name_email_and_phone_case_insensitively(
    storage: Storage, text: str, names: list[str]
):
    actor = await storage.new_tenant()
    await _seed_for_search(storage, actor)
    assert await _search(storage, actor, text) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        pytest.param("%", ["100% Plumbing"], id="percent"),
        pytest.param("0% p", ["100% Plumbing"], id="percent-inside"),
        pytest.param("_", ["snake_case Ltd"], id="underscore"),
        pytest.param("snake_case", ["snake_case Ltd"], id="underscore-inside"),
        pytest.param("\\", ["Back\\slash & Co"], id="backslash"),
        pytest.param("k\\s", ["Back\\slash & Co"], id="backslash-inside"),
    ],
)
async def test_percent_underscore_and_backslash_in_a_search_are_literal(
    storage: Storage, text: str, names: list[str]
):
    actor = await storage.new_tenant()
    await _seed_for_search(storage, actor)
    assert await _search(storage, actor, text) == names


async def test_search_results_are_paged_newest_first_like_the_full_list(storage: Storage):
    actor = await storage.new_tenant()
    start = utc_now()
    matching = [
        make_customer(actor.tenant_id, name=f"Match {i}", created_at=start - timedelta(minutes=i))
        for i in range(5)
    ]
    others = [make_customer(actor.tenant_id, name=f"Other {i}", created_at=start) for i in range(3)]
    await storage.add_customers(actor, *others, *matching)

    pages = await _walk(storage, actor, limit=2, search="match")

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [c for page in pages for c in page] == matching


# --- details: addresses, tags, notes, preferred channel -----------------------------------------


def _detailed(tenant_id, **overrides) -> Customer:
    base = make_customer(tenant_id, name="Ada Lovelace", email="ada@example.test", phone="+14155550123")
    details = {
        "addresses": (
            Address(
                label="Home",
                line1="12 St James's Square",
                city="London",
                postal_code="SW1Y 4JH",
                country="GB",
            ),
            Address(line1="1 Infinite Loop", line2="Suite 2", city="Cupertino", region="CA", country="US"),
        ),
        "tags": ("vip", "émigré", "late-payer"),
        "notes": "Prefers mornings.\n\tGate code 1234",
        "preferred_channel": ContactChannel.SMS,
    }
    return replace(base, **(details | overrides))


async def test_a_customer_with_every_detail_reads_back_equal_to_what_was_added(storage: Storage):
    actor = await storage.new_tenant()
    detailed = _detailed(actor.tenant_id)

    await storage.add_customers(actor, detailed)

    assert await storage.get_customer(actor, detailed.id) == detailed
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert (await uow.customers.list(PageRequest(limit=10))).items == [detailed]


async def test_a_customer_without_details_reads_back_with_none_of_them(storage: Storage):
    actor = await storage.new_tenant()
    bare = make_customer(actor.tenant_id)
    await storage.add_customers(actor, bare)

    stored = await storage.get_customer(actor, bare.id)

    assert stored is not None
    assert (stored.addresses, stored.tags, stored.notes) == ((), (), None)
    assert stored.preferred_channel is ContactChannel.NONE


async def test_an_update_stores_every_detail_and_can_clear_them(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id, phone="+14155550123")
    await storage.add_customers(actor, customer)
    detailed = replace(_detailed(actor.tenant_id), id=customer.id, created_at=customer.created_at, version=2)
    cleared = replace(
        detailed, addresses=(), tags=(), notes=None, preferred_channel=ContactChannel.NONE, version=3
    )

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.customers.update(detailed, expected_version=1) is True
        await uow.commit()
    assert await storage.get_customer(actor, customer.id) == detailed

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.customers.update(cleared, expected_version=2) is True
        await uow.commit()
    assert await storage.get_customer(actor, customer.id) == cleared


async def test_add_many_stores_details_too(storage: Storage):
    actor = await storage.new_tenant()
    batch = [_detailed(actor.tenant_id), _detailed(actor.tenant_id, tags=("other",))]

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.customers.add_many(batch)
        await uow.commit()

    for customer in batch:
        assert await storage.get_customer(actor, customer.id) == customer


# --- filtering by tag ---------------------------------------------------------------------------


async def _tagged(storage: Storage, actor: Actor) -> dict[str, Customer]:
    start = utc_now() - timedelta(hours=1)
    tags = {
        "gold-1": ("gold", "vip"),
        "gold-2": ("gold",),
        "silver": ("silver",),
        "golden": ("golden",),  # a tag containing "gold" is another tag
        "none": (),
    }
    customers = {
        name: replace(
            make_customer(actor.tenant_id, name=name, created_at=start - timedelta(minutes=i)), tags=t
        )
        for i, (name, t) in enumerate(tags.items())
    }
    await storage.add_customers(actor, *customers.values())
    return customers


@pytest.mark.parametrize(
    ("tag", "names"),
    [
        ("gold", ["gold-1", "gold-2"]),
        ("vip", ["gold-1"]),
        ("golden", ["golden"]),
        ("gol", []),
        ("bronze", []),
    ],
)
async def test_a_tag_filter_keeps_exactly_the_customers_carrying_that_tag(storage: Storage, tag, names):
    actor = await storage.new_tenant()
    await _tagged(storage, actor)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        page = await uow.customers.list(PageRequest(limit=100), tag=tag)

    assert [c.name for c in page.items] == names


async def test_a_tag_filter_combines_with_search_and_pages_newest_first(storage: Storage):
    actor = await storage.new_tenant()
    start = utc_now()
    vips = [
        replace(
            make_customer(actor.tenant_id, name=f"Vip {i}", created_at=start - timedelta(minutes=i)),
            tags=("vip",),
        )
        for i in range(5)
    ]
    plain = [make_customer(actor.tenant_id, name=f"Vip lookalike {i}", created_at=start) for i in range(3)]
    await storage.add_customers(actor, *plain, *vips)

    seen: list[Customer] = []
    after: Position | None = None
    while True:
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            page = await uow.customers.list(PageRequest(limit=2, after=after), search="vip", tag="vip")
        seen.extend(page.items)
        if not page.has_more:
            break
        after = page.next_position

    assert seen == vips


async def test_a_tag_filter_never_shows_another_tenants_customers(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    await _tagged(storage, a)

    async with storage.units(b.tenant_id, b.user_id) as uow:
        assert (await uow.customers.list(PageRequest(limit=100), tag="gold")).items == []


# --- the customer's own history, for the timeline -----------------------------------------------


async def _record(storage: Storage, actor: Actor, action: str, target: str, changes: dict | None = None):
    await storage.commit_work(
        actor.tenant_id, actor.user_id, lambda uow: uow.audit.record(action, "customer", target, changes)
    )


async def test_the_history_holds_the_audit_entries_about_the_customer_newest_first(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id)
    other = make_customer(actor.tenant_id)
    await storage.add_customers(actor, customer, other)
    await _record(storage, actor, "customer.created", str(customer.id), {"name": "Ada"})
    await _record(storage, actor, "customer.created", str(other.id), {"name": "Someone else"})
    await _record(storage, actor, "customer.updated", str(customer.id), {"phone": {}, "email": {}})
    await storage.commit_work(
        actor.tenant_id,
        actor.user_id,
        lambda uow: uow.audit.record("apikey.created", "api_key", str(customer.id)),
    )

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        entries = await uow.customers.timeline(customer.id, None, 10)

    assert [e.summary for e in entries] == ["Customer updated: email, phone", "Customer created"]
    assert all(e.kind is TimelineKind.CUSTOMER for e in entries)
    assert all(e.ref == TimelineRef("customer", customer.id) for e in entries)
    assert entries[0].occurred_at > entries[1].occurred_at
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        events = (
            await uow.audit.list(
                AuditFilter(target_type="customer", target_id=str(customer.id)), PageRequest(limit=10)
            )
        ).items
    assert [e.id for e in entries] == [e.id for e in events]


async def test_the_history_pages_by_keyset_without_repeats_or_gaps(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id)
    await storage.add_customers(actor, customer)
    for n in range(7):
        await _record(storage, actor, "customer.updated", str(customer.id), {f"field_{n}": {}})

    seen = []
    after = None
    while True:
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            entries = await uow.customers.timeline(customer.id, after, 3)
        seen.extend(entries)
        if len(entries) < 3:
            break
        after = Position(entries[-1].occurred_at, entries[-1].id)

    assert [e.summary for e in seen] == [f"Customer updated: field_{n}" for n in reversed(range(7))]


async def test_the_history_of_another_tenants_customer_is_empty(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    customer = make_customer(a.tenant_id)
    await storage.add_customers(a, customer)
    await _record(storage, a, "customer.created", str(customer.id))

    async with storage.units(b.tenant_id, b.user_id) as uow:
        assert await uow.customers.timeline(customer.id, None, 10) == []
