"""Customer use cases: the template every later tenant-owned resource follows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from switchboard.core.audit.model import diff
from switchboard.core.customers.model import (
    Customer,
    apply_changes,
    check_reachable,
    clean_search,
    clean_tag_filter,
    customer_fields,
    validated,
)
from switchboard.core.errors import NotFound, PreconditionFailed
from switchboard.core.identity.model import Principal
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.tenancy.permissions import Action, require
from switchboard.core.webhooks.handlers import publish
from switchboard.core.webhooks.model import DomainEvent

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork

CUSTOMER_NOT_FOUND = "no customer with this id"


@dataclass(frozen=True)
class CreateCustomer:
    name: str
    email: str | None = None
    phone: str | None = None
    addresses: Sequence[Mapping[str, object]] | None = None
    tags: Sequence[str] | None = None
    notes: str | None = None
    preferred_channel: str = "none"


@dataclass(frozen=True)
class ListCustomers:
    page: PageRequest = field(default_factory=PageRequest)
    q: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class UpdateCustomer:
    customer_id: UUID
    # Only the fields the client sent, as sent; None clears a field (addresses and tags: empty).
    changes: Mapping[str, object]
    if_match: int | None = None


@dataclass(frozen=True)
class DeleteCustomer:
    customer_id: UUID
    if_match: int | None = None


async def create_customer(
    cmd: CreateCustomer, principal: Principal, uow: UnitOfWork, clock: Clock
) -> Customer:
    require(principal, Action.CUSTOMERS_WRITE)
    fields = validated(
        {
            "name": cmd.name,
            "email": cmd.email,
            "phone": cmd.phone,
            "addresses": cmd.addresses,
            "tags": cmd.tags,
            "notes": cmd.notes,
            "preferred_channel": cmd.preferred_channel,
        }
    )
    now = clock.now()
    customer = Customer(id=uuid4(), tenant_id=principal.tenant_id, created_at=now, updated_at=now, **fields)
    check_reachable(customer)
    async with uow:
        await uow.customers.add(customer)
        await uow.audit.record("customer.created", "customer", str(customer.id), _fields(customer))
        await publish(uow, principal.tenant_id, _event("customer.created", customer, now))
        await uow.commit()
    return customer


async def get_customer(customer_id: UUID, principal: Principal, uow: UnitOfWork) -> Customer:
    require(principal, Action.CUSTOMERS_READ)
    async with uow:
        customer = await uow.customers.get(customer_id)
    if customer is None:
        raise NotFound(CUSTOMER_NOT_FOUND)
    return customer


async def list_customers(cmd: ListCustomers, principal: Principal, uow: UnitOfWork) -> Page[Customer]:
    require(principal, Action.CUSTOMERS_READ)
    search = clean_search(cmd.q)
    tag = clean_tag_filter(cmd.tag)
    async with uow:
        return await uow.customers.list(cmd.page, search, tag)


async def update_customer(
    cmd: UpdateCustomer, principal: Principal, uow: UnitOfWork, clock: Clock
) -> Customer:
    require(principal, Action.CUSTOMERS_WRITE)
    changes = validated(cmd.changes)
    async with uow:
        current = await uow.customers.get(cmd.customer_id, for_update=True)
        if current is None:
            raise NotFound(CUSTOMER_NOT_FOUND)
        _check_version(current, cmd.if_match)
        updated = apply_changes(current, changes, clock.now())
        check_reachable(updated)
        if not await uow.customers.update(updated, expected_version=current.version):
            raise PreconditionFailed("the customer changed while it was being updated")
        changes = diff(_fields(current), _fields(updated))
        await uow.audit.record("customer.updated", "customer", str(updated.id), changes)
        await publish(uow, principal.tenant_id, _event("customer.updated", updated, updated.updated_at))
        await uow.commit()
    return updated


async def delete_customer(cmd: DeleteCustomer, principal: Principal, uow: UnitOfWork, clock: Clock) -> None:
    require(principal, Action.CUSTOMERS_WRITE)
    async with uow:
        current = await uow.customers.get(cmd.customer_id, for_update=True)
        if current is None:
            raise NotFound(CUSTOMER_NOT_FOUND)
        _check_version(current, cmd.if_match)
        await uow.customers.delete(cmd.customer_id)
        await uow.audit.record("customer.deleted", "customer", str(current.id), _fields(current))
        await publish(uow, principal.tenant_id, _event("customer.deleted", current, clock.now()))
        await uow.commit()


def _fields(customer: Customer) -> dict[str, Any]:
    return customer_fields(customer)


def _event(event_type: str, customer: Customer, at: datetime) -> DomainEvent:
    data = {
        "object": "customer",
        "id": str(customer.id),
        **customer_fields(customer),
        "created_at": customer.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": customer.updated_at.isoformat().replace("+00:00", "Z"),
    }
    return DomainEvent(uuid4(), event_type, data, at)


def _check_version(customer: Customer, if_match: int | None) -> None:
    if if_match is not None and if_match != customer.version:
        raise PreconditionFailed("the customer changed since it was read")
