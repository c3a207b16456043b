"""The platform admins' list of every tenant: newest first, filtered by status, with member
counts, one keyset page at a time.

The PostgreSQL database is shared by the whole session and lists every tenant of every test, so
each test here makes its tenants at moments of its own, far in the future, and reads from a
position just after them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from switchboard.core.pagination import Page, PageRequest, Position
from switchboard.core.tenancy.model import Role, Tenant, TenantStatus
from switchboard.ports.persistence import TenantSummary
from tests.contract.conftest import Actor, Storage

NEWEST_ID = UUID(int=2**128 - 1)


def moment_of_our_own() -> datetime:
    """A moment no other test makes tenants near: somewhere in the 25th to 30th centuries."""
    return datetime(2400, 1, 1, tzinfo=UTC) + timedelta(days=uuid4().int % 200_000)


def just_after(moment: datetime) -> Position:
    """The position right before every tenant made earlier than ``moment``."""
    return Position(moment, NEWEST_ID)


async def tenant_of(storage: Storage, actor: Actor) -> Tenant:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        tenant = await uow.tenants.get()
    assert tenant is not None
    return tenant


async def suspend(storage: Storage, actor: Actor) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.tenants.set_status(TenantStatus.SUSPENDED, datetime.now(UTC))
        await uow.commit()


async def list_from(
    storage: Storage, moment: datetime, limit: int, status: TenantStatus | None = None
) -> Page[TenantSummary]:
    return await storage.directory.list_tenants(PageRequest(limit=limit, after=just_after(moment)), status)


async def test_list_tenants_gives_every_tenant_newest_first_with_its_member_count(storage: Storage):
    base = moment_of_our_own()
    oldest = await storage.new_tenant(at=base - timedelta(minutes=3))
    middle = await storage.new_tenant(at=base - timedelta(minutes=2))
    newest = await storage.new_tenant(at=base - timedelta(minutes=1))
    for _ in range(2):
        colleague = await storage.new_tenant()
        await storage.add_member(middle, colleague.user_id, Role.ADMIN)

    page = await list_from(storage, base, limit=3)

    assert page.items == [
        TenantSummary(await tenant_of(storage, newest), 1),
        TenantSummary(await tenant_of(storage, middle), 3),
        TenantSummary(await tenant_of(storage, oldest), 1),
    ]
    assert all(type(summary.tenant.status) is TenantStatus for summary in page.items)


async def test_list_tenants_pages_have_no_gaps_or_repeats(storage: Storage):
    base = moment_of_our_own()
    tenants = [await storage.new_tenant(at=base - timedelta(minutes=i)) for i in (1, 2, 3)]
    # Two tenants made at the very same instant: the id breaks the tie.
    tenants += [await storage.new_tenant(at=base - timedelta(minutes=2)) for _ in range(2)]
    expected = sorted(
        [await tenant_of(storage, actor) for actor in tenants],
        key=lambda t: (t.created_at, t.id),
        reverse=True,
    )

    first = await list_from(storage, base, limit=2)
    assert first.next_position is not None
    second = await storage.directory.list_tenants(PageRequest(limit=2, after=first.next_position))
    assert second.next_position is not None
    third = await storage.directory.list_tenants(PageRequest(limit=2, after=second.next_position))

    seen = [summary.tenant for summary in [*first.items, *second.items, *third.items]]
    assert seen[:5] == expected
    assert len(first.items) == len(second.items) == 2


async def test_list_tenants_first_page_is_newest_first(storage: Storage):
    await storage.new_tenant()

    page = await storage.directory.list_tenants(PageRequest(limit=50))

    keys = [(summary.tenant.created_at, summary.tenant.id) for summary in page.items]
    assert keys
    assert keys == sorted(keys, reverse=True)


async def test_list_tenants_filters_by_status(storage: Storage):
    base = moment_of_our_own()
    actors = [await storage.new_tenant(at=base - timedelta(minutes=i)) for i in range(1, 5)]
    await suspend(storage, actors[0])
    await suspend(storage, actors[2])

    suspended = await list_from(storage, base, limit=2, status=TenantStatus.SUSPENDED)
    active = await list_from(storage, base, limit=2, status=TenantStatus.ACTIVE)
    either = await list_from(storage, base, limit=4)

    assert [s.tenant.id for s in suspended.items] == [actors[0].tenant_id, actors[2].tenant_id]
    assert all(s.tenant.status is TenantStatus.SUSPENDED for s in suspended.items)
    assert [s.tenant.id for s in active.items] == [actors[1].tenant_id, actors[3].tenant_id]
    assert all(s.tenant.status is TenantStatus.ACTIVE for s in active.items)
    assert [s.tenant.id for s in either.items] == [a.tenant_id for a in actors]


async def test_list_tenants_pages_through_one_status_without_gaps(storage: Storage):
    base = moment_of_our_own()
    actors = [await storage.new_tenant(at=base - timedelta(minutes=i)) for i in range(1, 8)]
    for actor in actors[::2]:  # four of the seven
        await suspend(storage, actor)
    wanted = [a.tenant_id for a in actors[::2]]

    first = await list_from(storage, base, limit=3, status=TenantStatus.SUSPENDED)
    assert first.next_position is not None
    second = await storage.directory.list_tenants(
        PageRequest(limit=3, after=first.next_position), TenantStatus.SUSPENDED
    )

    assert [s.tenant.id for s in first.items] == wanted[:3]
    assert second.items[0].tenant.id == wanted[3]
    assert all(s.tenant.status is TenantStatus.SUSPENDED for s in second.items)
