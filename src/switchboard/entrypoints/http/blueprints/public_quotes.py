"""The page a customer opens from a mailed quote: ``/q/<token>``, HTML, no account.

Reading the page changes nothing (mail scanners and link previews open links); the answer is a
POST of a form to ``/q/<token>/accept`` or ``/reject``, then a redirect back to the page
(303), so reloading never posts twice. No cross-site request forgery is possible: the link's
token, in the path, is the only credential, so a forged request must already know it; there is
no cookie or other ambient authority to borrow. Answers are idempotent anyway: accepting an
accepted quote changes nothing. The page is never cached or framed, sends no referrer and runs
no script (its Content-Security-Policy allows none).
"""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from quart import Blueprint, Response, redirect, render_template_string
from quart_schema import hide

from switchboard.core.errors import Conflict, NotFound
from switchboard.core.sales.currencies import format_money
from switchboard.core.sales.model import QuoteStatus
from switchboard.core.sales.public import (
    PublicQuote,
    QuoteLinkExpired,
    QuoteLinks,
    answer_quote_link,
    open_quote_link,
)
from switchboard.core.sales.totals import decimal_text
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import client

blueprint = Blueprint("public_quotes", __name__, url_prefix="/q")

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Robots-Tag": "noindex, nofollow",
}

# Autoescaped (a template from a string always is): every value below is the tenant's or the
# customer's text, never trusted as markup.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
th, td { padding: .4rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.totals td { border: none; }
.notice { padding: .8rem; background: #f3f3f3; border-radius: .3rem; }
form { display: inline-block; margin-right: .5rem; }
button { font-size: 1rem; padding: .5rem 1.2rem; }
</style>
</head>
<body>
{% if quote %}
<h1>Quote {{ quote.number }}</h1>
<p>From <strong>{{ seller }}</strong> to <strong>{{ quote.bill_to.name }}</strong>,
valid until {{ quote.valid_until.isoformat() }}.</p>
{% if message %}<p class="notice">{{ message }}</p>{% endif %}
<table>
<tr><th>Description</th><th>Quantity</th><th>Unit price</th><th>Discount</th><th>Tax</th><th>Amount</th></tr>
{% for line in lines %}
<tr><td>{{ line.description }}</td><td>{{ line.quantity }}</td><td>{{ line.unit_price }}</td>
<td>{{ line.discount }}</td><td>{{ line.tax }}</td><td>{{ line.total }}</td></tr>
{% endfor %}
</table>
<table class="totals">
{% for label, amount in totals %}<tr><td>{{ label }}</td><td>{{ amount }}</td></tr>{% endfor %}
</table>
{% if quote.notes %}<p>{{ quote.notes }}</p>{% endif %}
{% if open %}
<form method="post" action="{{ base }}/accept"><button type="submit">Accept this quote</button></form>
<form method="post" action="{{ base }}/reject"><button type="submit">Decline</button></form>
{% endif %}
{% else %}
<h1>{{ title }}</h1>
<p class="notice">{{ message }}</p>
{% endif %}
</body>
</html>
"""


@blueprint.get("/<token>")
@hide
@inject
async def show(token: str, links: QuoteLinks = Provide[Container.quote_links]) -> Response:
    try:
        found = await open_quote_link(token, links)
    except NotFound as error:
        return await _failure(error)
    return await _page(found, token)


@blueprint.post("/<token>/accept")
@hide
@inject
async def accept(token: str, links: QuoteLinks = Provide[Container.quote_links]) -> Response:
    return await _answer(token, True, links)


@blueprint.post("/<token>/reject")
@hide
@inject
async def reject(token: str, links: QuoteLinks = Provide[Container.quote_links]) -> Response:
    return await _answer(token, False, links)


async def _answer(token: str, accept: bool, links: QuoteLinks) -> Response:
    try:
        await answer_quote_link(token, accept, links, client())
    except NotFound as error:
        return await _failure(error)
    except Conflict as error:
        try:
            found = await open_quote_link(token, links)
        except NotFound as gone:
            return await _failure(gone)
        return await _page(found, token, message=error.detail, status=409)
    response: Response = redirect(f"/q/{token}", code=303)  # type: ignore[assignment]
    response.headers.update(PAGE_HEADERS)
    return response


async def _page(found: PublicQuote, token: str, message: str | None = None, status: int = 200) -> Response:
    quote = found.quote
    currency = quote.currency
    if message is None and quote.status is QuoteStatus.ACCEPTED:
        message = "You accepted this quote. Thank you!"
    elif message is None and quote.status is QuoteStatus.REJECTED:
        message = "You declined this quote."
    totals = [("Subtotal", quote.totals.subtotal)]
    if quote.totals.discount:
        totals.append(("Discount", -quote.totals.discount))
    totals += [("Tax", quote.totals.tax), ("Total", quote.totals.total)]
    html = await render_template_string(
        PAGE,
        title=f"Quote {quote.number} from {found.seller}",
        quote=quote,
        seller=found.seller,
        message=message,
        base=f"/q/{token}",
        open=quote.status is QuoteStatus.SENT,
        lines=[
            {
                "description": line.description,
                "quantity": decimal_text(line.quantity),
                "unit_price": format_money(line.unit_price, currency),
                "discount": f"{decimal_text(line.discount_percent)}%" if line.discount else "",
                "tax": f"{decimal_text(line.tax_rate)}%" if line.tax_rate else "",
                "total": format_money(line.total, currency),
            }
            for line in quote.lines
        ],
        totals=[(label, format_money(amount, currency)) for label, amount in totals],
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


async def _failure(error: NotFound) -> Response:
    expired = isinstance(error, QuoteLinkExpired)
    title = "This quote has expired" if expired else "Link not found"
    html = await render_template_string(PAGE, title=title, quote=None, message=error.detail)
    return Response(
        html, status=410 if expired else 404, content_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )
