"""A unit of work is one transaction in one tenant: it rolls back unless committed."""

from __future__ import annotations

import pytest

from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFinished
from tests.contract.conftest import Storage, make_customer


async def test_a_unit_of_work_rolls_back_unless_committed(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.customers.add(customer)

    assert await storage.get_customer(actor, customer.id) is None


async def test_a_unit_of_work_sees_its_own_writes_before_commit(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.customers.add(customer)
        assert await uow.customers.get(customer.id) == customer


async def test_commit_persists_the_writes(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.customers.add(customer)
        await uow.commit()

    assert await storage.get_customer(actor, customer.id) == customer


async def test_rollback_discards_the_writes_made_so_far(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.customers.add(customer)
        await uow.rollback()

    assert await storage.get_customer(actor, customer.id) is None


async def test_an_error_inside_a_unit_of_work_leaves_nothing_behind(storage: Storage):
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id)

    async def failing_use_case(uow: UnitOfWork) -> None:
        await uow.customers.add(customer)
        raise RuntimeError("use case failed")

    with pytest.raises(RuntimeError, match="use case failed"):
        await storage.commit_work(actor.tenant_id, actor.user_id, failing_use_case)

    assert await storage.get_customer(actor, customer.id) is None


async def test_a_unit_of_work_is_finished_once_committed(storage: Storage):
    # One unit of work is one transaction: reuse after it ended must fail loudly, never run
    # unscoped (on PostgreSQL the tenant setting ends with the transaction).
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.customers.add(customer)
        await uow.commit()
        with pytest.raises(UnitOfWorkFinished):
            await uow.customers.get(customer.id)

    assert await storage.get_customer(actor, customer.id) == customer


async def test_a_unit_of_work_is_finished_once_rolled_back(storage: Storage):
    actor = await storage.new_tenant()
    discarded = make_customer(actor.tenant_id)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.customers.add(discarded)
        await uow.rollback()
        with pytest.raises(UnitOfWorkFinished):
            await uow.customers.add(make_customer(actor.tenant_id))

    assert await storage.get_customer(actor, discarded.id) is None
