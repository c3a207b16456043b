"""Customers: the first tenant-owned resource, and the template later resources copy."""

from __future__ import annotations

from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring, validate_request

from switchboard.core.customers import handlers, timeline
from switchboard.core.customers.model import (
    ADDRESSES_MAX,
    NAME_MAX,
    SEARCH_MAX,
    TAGS_MAX,
    ContactChannel,
    Customer,
)
from switchboard.core.identity.model import EMAIL_MAX
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import (
    CustomerListOut,
    CustomerOut,
    TimelineOut,
    render_customer,
    render_timeline_entry,
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
TAG_FILTER_MAX = 100  # before normalisation; a stored tag is at most TAG_MAX characters


class AddressIn(BaseModel):
    """Lengths, blank text and the country code are the core's to check (one rule for all)."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = None
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postal_code: str | None = None
    country: str = Field(description="ISO 3166-1 alpha-2 code, such as US or GB")


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX)
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    phone: str | None = Field(default=None, max_length=PHONE_MAX)
    addresses: list[AddressIn] | None = Field(default=None, max_length=ADDRESSES_MAX)
    tags: list[str] | None = Field(
        default=None, max_length=TAGS_MAX, description="Normalised: case-folded, spaces as '-'"
    )
    notes: str | None = None
    preferred_channel: ContactChannel = Field(
        default=ContactChannel.NONE, description="phone and sms need a phone number, email an email"
    )


class CustomerPatch(BaseModel):
    """Only the fields sent change; ``null`` clears email, phone, notes, addresses or tags.
    ``addresses`` and ``tags`` replace the whole list."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    phone: str | None = Field(default=None, max_length=PHONE_MAX)
    addresses: list[AddressIn] | None = Field(default=None, max_length=ADDRESSES_MAX)
    tags: list[str] | None = Field(default=None, max_length=TAGS_MAX)
    notes: str | None = None
    preferred_channel: ContactChannel | None = None


class CustomerListQuery(ListQuery):
    q: str | None = Field(default=None, max_length=SEARCH_MAX)
    tag: str | None = Field(default=None, max_length=TAG_FILTER_MAX)


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
    command = handlers.CreateCustomer(
        data.name,
        data.email,
        data.phone,
        addresses=[address.model_dump() for address in data.addresses or ()],
        tags=data.tags,
        notes=data.notes,
        preferred_channel=data.preferred_channel,
    )
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
    """List customers, newest first; ``q`` searches name, email and phone; ``tag`` keeps the
    customers carrying that tag."""
    command = handlers.ListCustomers(page_request(query_args), query_args.q, query_args.tag)
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
    changes = data.model_dump(exclude_unset=True, mode="json")
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


@blueprint.get("/<uuid:customer_id>/timeline")
@tag(["customers"])
@validate_querystring(ListQuery)
@document_response(TimelineOut)
@inject
async def customer_timeline(
    customer_id: UUID, query_args: ListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """What happened with a customer, newest first: their record's history, and the entries of
    each other kind the caller may read (appointments, quotes, invoices, payments, calls, ...)."""
    command = timeline.CustomerTimeline(customer_id, page_request(query_args))
    page = await timeline.customer_timeline(command, *acting(units))
    return list_response(page, render_timeline_entry, encode_cursor)
