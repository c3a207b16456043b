"""Customers: the first tenant-owned resource, and the template later resources copy."""

from __future__ import annotations

from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring, validate_request

from switchboard.core.customers import handlers
from switchboard.core.customers.model import NAME_MAX, SEARCH_MAX, Customer
from switchboard.core.identity.model import EMAIL_MAX
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import (
    CustomerListOut,
    CustomerOut,
    render_customer,
)
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import (
    etag,
    if_match_version,
    json_response,
    list_response,
)
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory

blueprint = Blueprint("customers", __name__, url_prefix="/v1/customers")
blueprint.before_request(require_principal)

PHONE_MAX = 40


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX)
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    phone: str | None = Field(default=None, max_length=PHONE_MAX)


class CustomerPatch(BaseModel):
    """Only the fields sent change; ``null`` clears email or phone."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    phone: str | None = Field(default=None, max_length=PHONE_MAX)


class CustomerListQuery(ListQuery):
    q: str | None = Field(default=None, max_length=SEARCH_MAX)


def _customer_response(customer: Customer, status: int = 200) -> Response:
    headers = {"ETag": etag(customer.version)}
    if status == 201:
        headers["Location"] = f"/v1/customers/{customer.id}"
    return json_response(render_customer(customer), status=status, headers=headers)


@blueprint.post("")
@tag(["customers"])
@validate_request(CustomerIn)
@document_response(CustomerOut, 201)
@idempotent
@inject
async def create_customer(
    data: CustomerIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Create a customer. Honours Idempotency-Key."""
    command = handlers.CreateCustomer(data.name, data.email, data.phone)
    customer = await handlers.create_customer(command, *acting(units), clock)
    return _customer_response(customer, status=201)


@blueprint.get("")
@tag(["customers"])
@validate_querystring(CustomerListQuery)
@document_response(CustomerListOut)
@inject
async def list_customers(
    query_args: CustomerListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """List customers, newest first; ``q`` searches name, email and phone."""
    command = handlers.ListCustomers(page_request(query_args), query_args.q)
    page = await handlers.list_customers(command, *acting(units))
    return list_response(page, render_customer, encode_cursor)


@blueprint.get("/<uuid:customer_id>")
@tag(["customers"])
@document_response(CustomerOut)
@inject
async def get_customer(customer_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Fetch one customer, with its ETag."""
    customer = await handlers.get_customer(customer_id, *acting(units))
    return _customer_response(customer)


@blueprint.patch("/<uuid:customer_id>")
@tag(["customers"])
@validate_request(CustomerPatch)
@document_response(CustomerOut)
@inject
async def update_customer(
    customer_id: UUID,
    data: CustomerPatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Change some fields of a customer. Honours If-Match."""
    changes = data.model_dump(exclude_unset=True)
    command = handlers.UpdateCustomer(customer_id, changes, if_match_version())
    customer = await handlers.update_customer(command, *acting(units), clock)
    return _customer_response(customer)


@blueprint.delete("/<uuid:customer_id>")
@tag(["customers"])
@inject
async def delete_customer(
    customer_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Delete a customer. Honours If-Match."""
    command = handlers.DeleteCustomer(customer_id, if_match_version())
    await handlers.delete_customer(command, *acting(units), clock)
    return Response(status=204)
