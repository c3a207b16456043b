"""ISO 4217 currencies and their minor units: how many digits an amount's minor units carry.

Amounts are integers in minor units everywhere (1999 USD is 19.99 dollars, 1999 JPY is 1,999 yen,
1999 KWD is 1.999 dinars). The table holds the active codes of ISO 4217's list one, less the
precious metals, bond units and testing codes, which no invoice is written in.
"""

from __future__ import annotations

import re

from switchboard.core.errors import InvalidInput

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP "
    "LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR "
    "NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP "
    "STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER "
    "ZAR ZMW ZWG"
)

MINOR_UNITS: dict[str, int] = {
    code: digits
    for digits, codes in ((0, _ZERO), (2, _TWO), (3, _THREE), (4, _FOUR))
    for code in codes.split()
}

_CODE = re.compile(r"^[A-Za-z]{3}$")


def clean_currency(value: str, field: str = "currency") -> str:
    """An active ISO 4217 code, upper case."""
    code = value.strip().upper()
    if not _CODE.match(code) or code not in MINOR_UNITS:
        raise InvalidInput.single(field, "must be an ISO 4217 currency code such as USD or EUR")
    return code


def format_money(amount: int, currency: str) -> str:
    """``1234550, "USD"`` -> ``"12,345.50 USD"``: for documents and mails, never parsed back."""
    digits = MINOR_UNITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**digits)
    text = f"{whole:,}"
    if digits:
        text += f".{fraction:0{digits}d}"
    return f"{sign}{text} {currency}"
