"""The page a customer opens from the mailed link: the quote, and their answer to it.

No account: the link's token is the credential. It is 256 random bits, stored only hashed, found
through the one cross-tenant directory (``find_quote_link``), and it works until the end of the
quote's validity date or until the tenant revokes it (sending again replaces it). Answers are
idempotent (the same answer twice changes nothing) and are audited with the customer as actor.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from switchboard.core.audit.model import Actor, ActorType, AuditContext
from switchboard.core.errors import NotFound
from switchboard.core.identity.model import Client, hash_opaque_token
from switchboard.core.sales.handlers import record_decision
from switchboard.core.sales.model import Quote

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import IdentityDirectory, UnitOfWorkFactory

LINK_NOT_FOUND = "this link is not valid: it may have been replaced by a newer one or withdrawn"
TOKEN_MAX = 100


class QuoteLinkExpired(NotFound):
    """The link was right, but the quote's validity date has passed."""

    code = "link_expired"


@dataclass(frozen=True)
class QuoteLinks:
    """The ports the public page works with, bundled once by the container."""

    directory: IdentityDirectory
    units: UnitOfWorkFactory
    clock: Clock


@dataclass(frozen=True)
class PublicQuote:
    quote: Quote
    seller: str  # the tenant's name


async def open_quote_link(token: str, links: QuoteLinks) -> PublicQuote:
    tenant_id, quote_id, token_hash = await _find(token, links)
    async with links.units(tenant_id) as uow:
        quote = await uow.quotes.get(quote_id)
        tenant = await uow.tenants.get()
    return PublicQuote(_live(quote, token_hash, links), tenant.name if tenant else "")


async def answer_quote_link(token: str, accept: bool, links: QuoteLinks, client: Client) -> PublicQuote:
    tenant_id, quote_id, token_hash = await _find(token, links)
    async with links.units(tenant_id) as uow:
        quote = await uow.quotes.get(quote_id)
    customer = _live(quote, token_hash, links).bill_to.customer_id
    context = AuditContext(Actor(ActorType.CUSTOMER, customer), client)
    async with links.units(tenant_id, None, context) as uow:
        locked = _live(await uow.quotes.get(quote_id, for_update=True), token_hash, links)
        decided = await record_decision(uow, locked, accept, links.clock.now())
        tenant = await uow.tenants.get()
        await uow.commit()
    return PublicQuote(decided, tenant.name if tenant else "")


async def _find(token: str, links: QuoteLinks) -> tuple[UUID, UUID, str]:
    plain = token.strip()
    if not plain or len(plain) > TOKEN_MAX:
        raise NotFound(LINK_NOT_FOUND)
    token_hash = hash_opaque_token(plain)
    found = await links.directory.find_quote_link(token_hash)
    if found is None:
        raise NotFound(LINK_NOT_FOUND)
    return found[0], found[1], token_hash


def _live(quote: Quote | None, token_hash: str, links: QuoteLinks) -> Quote:
    """The quote, if the link still opens it: the same token (not replaced or revoked since
    the directory answered) and not past the validity date."""
    if quote is None or quote.link_token_hash is None:
        raise NotFound(LINK_NOT_FOUND)
    if not hmac.compare_digest(quote.link_token_hash, token_hash):
        raise NotFound(LINK_NOT_FOUND)
    if not quote.link_live(links.clock.now()):
        raise QuoteLinkExpired(f"this quote was valid until {quote.valid_until:%Y-%m-%d}")
    return quote
