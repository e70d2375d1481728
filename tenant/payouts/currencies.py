"""ISO 4217 currency codes with their minor-unit exponent (how many decimals a cent has).

The list holds the active codes of ISO 4217 with a minor unit (funds and precious metals
left out); an amount is always stored in minor units, so the exponent is only used to print it.
"""

from __future__ import annotations

_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR "
    "LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD "
    "PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD XCG YER ZAR ZMW ZWG"
)
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"

MINOR_UNITS: dict[str, int] = {
    **{code: 2 for code in _TWO.split()},
    **{code: 0 for code in _ZERO.split()},
    **{code: 3 for code in _THREE.split()},
}


def minor_units(currency: str) -> int:
    """Decimals of `currency`; a KeyError names the code if it is not ISO 4217."""
    return MINOR_UNITS[currency]


def is_currency(code: str) -> bool:
    return code in MINOR_UNITS


def format_amount(amount_minor: int, currency: str, decimal_sep: str = ",") -> str:
    """12345 EUR -> "123,45"; 12345 JPY -> "12345". No thousands separator, so a spreadsheet
    reads it as a number."""
    exponent = MINOR_UNITS[currency]
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), 10**exponent)
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}{decimal_sep}{cents:0{exponent}d}"
