"""Shipping-and-tax quotes for the checkout page."""

import time
from decimal import Decimal

from shop.pricing import add_tax, to_money


def _tax_service_round_trip():
    time.sleep(0.005)


def quote(cart, rate=Decimal("0.19")):
    """Gross total of a cart: tax is computed per line and unit, as the tax office wants it."""
    _tax_service_round_trip()
    total = Decimal(0)
    for item in cart.items.values():
        for _ in range(item.quantity):
            total += add_tax(item.unit_price, rate)
    return to_money(total)
