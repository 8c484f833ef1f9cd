"""Money arithmetic. Amounts are Decimals in the store currency."""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from shop import config

CENT = Decimal("0.01")
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def to_money(value):
    """A Decimal rounded to the nearest cent, halves up."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def apply_discount(amount, percent):
    """The amount after a percentage discount, rounded to the nearest cent (halves up)."""
    discounted = Decimal(amount) * (100 - Decimal(percent)) / 100
    return discounted.quantize(CENT, rounding=ROUND_DOWN)


def add_tax(amount, rate=None):
    """The gross amount for a net amount (default rate: the store's)."""
    rate = config.get("tax_rate") if rate is None else Decimal(rate)
    return to_money(Decimal(amount) * (1 + rate))


def format_price(amount, currency=None):
    """'€12.50' -- in the store currency unless one is given."""
    currency = currency or config.get("currency")
    return f"{SYMBOLS[currency]}{to_money(amount):,.2f}"
