"""Line items and document totals, computed with Decimal under one stated rounding rule.

The rule (docs/sales.md): every amount is in integer minor units of the document's currency.
For each line, in this order, each step rounded half up (away from zero, "commercial rounding")
to a whole minor unit:

1. ``subtotal = round(quantity * unit_price)``
2. ``discount = round(subtotal * discount_percent / 100)``
3. ``net = subtotal - discount`` (exact: both are whole already)
4. ``tax = round(net * tax_rate / 100)``
5. ``total = net + tax``

A document's subtotal, discount, net, tax and total are the plain sums of its lines' rounded
amounts, so every figure printed on a line adds up to the figures printed at the bottom, and
``total = subtotal - discount + tax`` holds exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial

from switchboard.core.errors import FieldError, InvalidInput, gather
from switchboard.core.text import single_line

ROUNDING = ROUND_HALF_UP
MAX_LINES = 100
DESCRIPTION_MAX = 500
MAX_QUANTITY = Decimal("1000000")
QUANTITY_PLACES = 4
MAX_UNIT_PRICE = 10**11  # a billion in a two-digit currency, per unit
PERCENT_PLACES = 3
HUNDRED = Decimal(100)
_ONE = Decimal(1)


@dataclass(frozen=True)
class LineInput:
    """A line as a client writes it; quantity and the percentages as decimal strings."""

    description: str
    quantity: str
    unit_price: int
    tax_rate: str = "0"
    discount_percent: str = "0"
    # The currency the client wrote the price in, when it said: it must be the document's.
    currency: str | None = None


@dataclass(frozen=True)
class Line:
    """A priced line: what was asked for, and the rounded amounts that follow from it."""

    description: str
    quantity: Decimal
    unit_price: int
    tax_rate: Decimal
    discount_percent: Decimal
    subtotal: int
    discount: int
    net: int
    tax: int
    total: int


@dataclass(frozen=True)
class Totals:
    subtotal: int = 0
    discount: int = 0
    net: int = 0
    tax: int = 0
    total: int = 0


def round_minor(value: Decimal) -> int:
    """A whole number of minor units, half up."""
    return int(value.quantize(_ONE, rounding=ROUNDING))


def price_line(
    description: str, quantity: Decimal, unit_price: int, tax_rate: Decimal, discount_percent: Decimal
) -> Line:
    subtotal = round_minor(quantity * unit_price)
    discount = round_minor(subtotal * discount_percent / HUNDRED)
    net = subtotal - discount
    tax = round_minor(net * tax_rate / HUNDRED)
    return Line(
        description, quantity, unit_price, tax_rate, discount_percent, subtotal, discount, net, tax, net + tax
    )


def totals_of(lines: Iterable[Line]) -> Totals:
    lines = list(lines)
    return Totals(
        subtotal=sum(line.subtotal for line in lines),
        discount=sum(line.discount for line in lines),
        net=sum(line.net for line in lines),
        tax=sum(line.tax for line in lines),
        total=sum(line.total for line in lines),
    )


def priced_lines(
    inputs: list[LineInput], currency: str | None = None, field: str = "lines"
) -> tuple[Line, ...]:
    """Check every line, reporting every problem at once (``lines.2.quantity``), and price them.
    A line that names a currency must name ``currency``, the document's."""
    if len(inputs) > MAX_LINES:
        raise InvalidInput.single(field, f"must have at most {MAX_LINES} lines")
    problems: list[FieldError] = []
    lines: list[Line] = []
    for index, item in enumerate(inputs):
        if item.currency is not None and currency is not None and item.currency.upper() != currency:
            problems.append(
                FieldError(
                    f"{field}.{index}.unit_price.currency", f"must be {currency}, the document's currency"
                )
            )
        try:
            lines.append(_priced(item, f"{field}.{index}"))
        except InvalidInput as error:
            problems.extend(error.errors)
    if problems:
        raise InvalidInput(problems)
    return tuple(lines)


def _priced(item: LineInput, prefix: str) -> Line:
    checked: dict[str, object] = gather(
        {
            "description": partial(single_line, item.description, f"{prefix}.description", DESCRIPTION_MAX),
            "quantity": partial(
                _decimal, item.quantity, f"{prefix}.quantity", QUANTITY_PLACES, MAX_QUANTITY, positive=True
            ),
            "unit_price": partial(_unit_price, item.unit_price, f"{prefix}.unit_price"),
            "tax_rate": partial(_decimal, item.tax_rate, f"{prefix}.tax_rate", PERCENT_PLACES, HUNDRED),
            "discount_percent": partial(
                _decimal, item.discount_percent, f"{prefix}.discount_percent", PERCENT_PLACES, HUNDRED
            ),
        }
    )
    return price_line(
        str(checked["description"]),
        _decimal_of(checked["quantity"]),
        item.unit_price,
        _decimal_of(checked["tax_rate"]),
        _decimal_of(checked["discount_percent"]),
    )


def _decimal_of(value: object) -> Decimal:
    assert isinstance(value, Decimal)
    return value


def _unit_price(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput.single(field, "must be a whole number of minor units")
    if not 0 <= value <= MAX_UNIT_PRICE:
        raise InvalidInput.single(field, f"must be between 0 and {MAX_UNIT_PRICE} minor units")
    return value


def _decimal(text: str, field: str, places: int, highest: Decimal, *, positive: bool = False) -> Decimal:
    """A plain decimal string ("1.5", "20"): no exponent, at most ``places`` decimal places,
    from 0 (excluded when ``positive``) to ``highest``."""
    cleaned = str(text).strip()
    shape_ok = 0 < len(cleaned) <= 32 and all(char in "0123456789.+-" for char in cleaned)
    try:
        value = Decimal(cleaned) if shape_ok else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise InvalidInput.single(field, 'must be a decimal number written as a string, such as "1.5"')
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise InvalidInput.single(field, f"must have at most {places} decimal places")
    if value < 0 or value > highest or (positive and value == 0):
        lowest = "greater than 0" if positive else "at least 0"
        raise InvalidInput.single(field, f"must be {lowest} and at most {highest}")
    return canonical(value)


def canonical(value: Decimal) -> Decimal:
    """One spelling per number: "1.50" and "1.5" are both 1.5, "20.0" is 20, never 2E+1."""
    if value == 0:
        return Decimal(0)
    return Decimal(format(value.normalize(), "f"))


def decimal_text(value: Decimal) -> str:
    """How a quantity or a percentage is written back: plain notation, no exponent."""
    return format(value, "f")
