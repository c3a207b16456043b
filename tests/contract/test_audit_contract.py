"""The audit log: entries stamped with the unit of work's actor and client, listed newest first,
filtered, paged without gaps or repeats, and kept within their tenant."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from switchboard.core.audit.model import Actor as AuditActor
from switchboard.core.audit.model import ActorType, AuditContext, AuditEvent, AuditFilter
from switchboard.core.identity.model import Client
from switchboard.core.pagination import PageRequest
from tests.contract.conftest import Actor, Storage, utc_now

# The adapter's clock may be the database's: allow for a little skew around "the time now".
SKEW = timedelta(seconds=5)


def as_user(actor: Actor, client: Client | None = None) -> AuditContext:
    return AuditContext(AuditActor(ActorType.USER, actor.user_id), client or Client())


async def record(
    storage: Storage,
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    changes: dict[str, Any] | None = None,
    *,
    context: AuditContext | None = None,
) -> None:
    """One entry, in a unit of work of its own."""
    async with storage.units(actor.tenant_id, actor.user_id, context) as uow:
        await uow.audit.record(action, target_type, target_id, changes)
        await uow.commit()


async def entries(
    storage: Storage, actor: Actor, filters: AuditFilter | None = None, *, limit: int = 100
) -> list[AuditEvent]:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        page = await uow.audit.list(filters or AuditFilter(), PageRequest(limit=limit))
    return page.items


async def only_entry(storage: Storage, actor: Actor) -> AuditEvent:
    found = await entries(storage, actor)
    assert len(found) == 1
    return found[0]


def newest_first(events: list[AuditEvent]) -> bool:
    keys = [(e.occurred_at, e.id) for e in events]
    return keys == sorted(keys, reverse=True)


async def tick() -> datetime:
    """A moment strictly between the entries recorded before and after it."""
    await asyncio.sleep(0.02)
    moment = utc_now()
    await asyncio.sleep(0.02)
    return moment


# --- stamping -----------------------------------------------------------------------------------


async def test_an_entry_is_stamped_with_the_actor_and_client_of_its_unit_of_work(storage: Storage):
    actor = await storage.new_tenant()
    client = Client(ip="203.0.113.42", user_agent="Mozilla/5.0 (audit)", request_id="req-" + uuid4().hex)
    changes = {"name": {"from": "Old Ltd", "to": "New Ltd"}, "tags": ["a", "b"], "count": 3, "gone": None}
    before = utc_now()

    await record(
        storage,
        actor,
        "tenant.updated",
        "tenant",
        str(actor.tenant_id),
        changes,
        context=as_user(actor, client),
    )

    event = await only_entry(storage, actor)
    assert event == AuditEvent(
        id=event.id,
        tenant_id=actor.tenant_id,
        occurred_at=event.occurred_at,
        actor=AuditActor(ActorType.USER, actor.user_id),
        action="tenant.updated",
        target_type="tenant",
        target_id=str(actor.tenant_id),
        ip="203.0.113.42",
        user_agent="Mozilla/5.0 (audit)",
        request_id=client.request_id,
        changes=changes,
    )
    assert type(event.actor.type) is ActorType
    assert before - SKEW <= event.occurred_at <= utc_now() + SKEW
    assert event.occurred_at.utcoffset() == timedelta(0)


async def test_an_entry_names_the_admin_behind_an_impersonating_user(storage: Storage):
    actor = await storage.new_tenant()
    admin_id = uuid4()
    context = AuditContext(AuditActor(ActorType.USER, actor.user_id, on_behalf_of_admin=admin_id))

    await record(storage, actor, "customer.deleted", "customer", str(uuid4()), context=context)

    event = await only_entry(storage, actor)
    assert event.actor == AuditActor(ActorType.USER, actor.user_id, on_behalf_of_admin=admin_id)


async def test_an_entry_made_with_an_api_key_names_the_key(storage: Storage):
    actor = await storage.new_tenant()
    key_id = uuid4()
    context = AuditContext(AuditActor(ActorType.API_KEY, key_id), Client(ip="192.0.2.8"))

    await record(
        storage, actor, "customer.created", "customer", str(uuid4()), {"name": "Ada"}, context=context
    )

    event = await only_entry(storage, actor)
    assert event.actor == AuditActor(ActorType.API_KEY, key_id)
    assert (event.ip, event.user_agent, event.request_id) == ("192.0.2.8", None, None)


async def test_without_a_context_an_entry_names_the_system_as_the_actor(storage: Storage):
    actor = await storage.new_tenant()

    async with storage.units(actor.tenant_id) as uow:
        await uow.audit.record("tenant.suspended", "tenant", str(actor.tenant_id))
        await uow.commit()
    await record(storage, actor, "webhook.disabled")  # an acting user, but no context

    found = await entries(storage, actor)
    assert [e.action for e in found] == ["webhook.disabled", "tenant.suspended"]
    for event in found:
        assert event.actor == AuditActor(ActorType.SYSTEM, None)
        assert (event.ip, event.user_agent, event.request_id) == (None, None, None)


async def test_an_entry_without_target_or_changes_reads_back_bare(storage: Storage):
    actor = await storage.new_tenant()

    await record(storage, actor, "auth.sign_in_failed", context=as_user(actor))

    event = await only_entry(storage, actor)
    assert (event.action, event.target_type, event.target_id, event.changes) == (
        "auth.sign_in_failed",
        None,
        None,
        {},
    )


async def test_an_entry_is_kept_only_if_its_unit_of_work_commits(storage: Storage):
    actor = await storage.new_tenant()

    async with storage.units(actor.tenant_id, actor.user_id, as_user(actor)) as uow:
        await uow.audit.record("customer.created", "customer", str(uuid4()))

    assert await entries(storage, actor) == []


# --- listing ------------------------------------------------------------------------------------


async def test_entries_are_listed_newest_first(storage: Storage):
    actor = await storage.new_tenant()
    for n in range(4):
        await record(storage, actor, f"step.{n}", context=as_user(actor))
        await asyncio.sleep(0.005)

    found = await entries(storage, actor)

    assert [e.action for e in found] == ["step.3", "step.2", "step.1", "step.0"]
    assert newest_first(found)


async def test_entries_recorded_in_one_unit_of_work_are_all_listed_in_a_stable_order(storage: Storage):
    actor = await storage.new_tenant()
    async with storage.units(actor.tenant_id, actor.user_id, as_user(actor)) as uow:
        for n in range(5):
            await uow.audit.record("bulk.item", "customer", str(n))
        await uow.commit()

    first = await entries(storage, actor)
    second = await entries(storage, actor)

    assert sorted(str(e.target_id) for e in first) == ["0", "1", "2", "3", "4"]
    assert newest_first(first)
    assert first == second


async def test_entry_pages_have_no_gaps_or_repeats(storage: Storage):
    actor = await storage.new_tenant()
    for batch in range(3):  # entries of one unit of work may share their moment
        async with storage.units(actor.tenant_id, actor.user_id, as_user(actor)) as uow:
            for n in range(3):
                await uow.audit.record("customer.updated", "customer", f"{batch}-{n}")
            await uow.commit()
    everything = await entries(storage, actor)
    assert len(everything) == 9

    paged: list[AuditEvent] = []
    request = PageRequest(limit=2)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        while True:
            page = await uow.audit.list(AuditFilter(), request)
            paged.extend(page.items)
            if page.next_position is None:
                break
            assert len(page.items) == 2
            request = PageRequest(limit=2, after=page.next_position)

    assert paged == everything
    assert len({e.id for e in paged}) == 9
    assert newest_first(paged)


async def test_each_filter_narrows_the_entries(storage: Storage):
    actor = await storage.new_tenant()
    colleague_id = uuid4()  # the actor's id is only a stamp: no account behind it is needed
    as_colleague = AuditContext(AuditActor(ActorType.USER, colleague_id))
    customer_id = str(uuid4())

    await record(storage, actor, "customer.created", "customer", customer_id, context=as_user(actor))
    start = await tick()
    await record(storage, actor, "customer.updated", "customer", customer_id, context=as_colleague)
    await record(storage, actor, "customer.updated", "customer", str(uuid4()), context=as_user(actor))
    middle = await tick()
    await record(storage, actor, "webhook.created", "webhook_endpoint", str(uuid4()), context=as_colleague)
    await record(storage, actor, "auth.signed_in", context=as_user(actor))

    def actions(found: list[AuditEvent]) -> list[tuple[str, str | None]]:
        return [(e.action, e.target_id) for e in found]

    everything = await entries(storage, actor)
    assert len(everything) == 5
    by_action = await entries(storage, actor, AuditFilter(action="customer.updated"))
    assert [e.action for e in by_action] == ["customer.updated", "customer.updated"]
    by_actor = await entries(storage, actor, AuditFilter(actor_id=colleague_id))
    assert [e.action for e in by_actor] == ["webhook.created", "customer.updated"]
    by_type = await entries(storage, actor, AuditFilter(target_type="customer"))
    assert [e.action for e in by_type] == ["customer.updated", "customer.updated", "customer.created"]
    by_target = await entries(storage, actor, AuditFilter(target_id=customer_id))
    assert actions(by_target) == [("customer.updated", customer_id), ("customer.created", customer_id)]
    after_start = await entries(storage, actor, AuditFilter(occurred_after=start))
    assert [e.action for e in after_start] == [e.action for e in everything[:4]]
    before_middle = await entries(storage, actor, AuditFilter(occurred_before=middle))
    assert [e.action for e in before_middle] == [e.action for e in everything[2:]]
    between = await entries(storage, actor, AuditFilter(occurred_after=start, occurred_before=middle))
    assert [e.action for e in between] == ["customer.updated", "customer.updated"]
    combined = await entries(
        storage, actor, AuditFilter(action="customer.updated", actor_id=colleague_id, target_type="customer")
    )
    assert actions(combined) == [("customer.updated", customer_id)]
    assert await entries(storage, actor, AuditFilter(action="no.such_action")) == []


async def test_filtered_pages_have_no_gaps_or_repeats(storage: Storage):
    actor = await storage.new_tenant()
    async with storage.units(actor.tenant_id, actor.user_id, as_user(actor)) as uow:
        for n in range(7):
            await uow.audit.record(
                "customer.updated" if n % 2 == 0 else "customer.viewed", "customer", str(n)
            )
        await uow.commit()
    wanted = AuditFilter(action="customer.updated")
    everything = await entries(storage, actor, wanted)
    assert len(everything) == 4

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        first = await uow.audit.list(wanted, PageRequest(limit=3))
        assert first.next_position is not None
        rest = await uow.audit.list(wanted, PageRequest(limit=3, after=first.next_position))

    assert [*first.items, *rest.items] == everything
    assert rest.next_position is None


# --- tenant isolation ---------------------------------------------------------------------------


async def test_another_tenants_entries_are_never_listed(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    target = str(uuid4())
    await record(storage, a, "customer.deleted", "customer", target, context=as_user(a))

    assert await entries(storage, b) == []
    assert await entries(storage, b, AuditFilter(target_id=target)) == []
    assert await entries(storage, b, AuditFilter(actor_id=a.user_id)) == []
    assert len(await entries(storage, a)) == 1


async def test_entries_stay_in_the_tenant_of_their_unit_of_work(storage: Storage):
    # The same person acting in two tenants: each tenant's log holds only what was done there.
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    await storage.add_member(b, a.user_id)
    in_b = replace(a, tenant_id=b.tenant_id)

    await record(storage, a, "customer.created", context=as_user(a))
    await record(storage, in_b, "customer.deleted", context=as_user(a))

    found_a = await entries(storage, a)
    found_b = await entries(storage, in_b)
    assert [(e.tenant_id, e.action) for e in found_a] == [(a.tenant_id, "customer.created")]
    assert [(e.tenant_id, e.action) for e in found_b] == [(b.tenant_id, "customer.deleted")]
