import time
from decimal import Decimal

from shop.cart import Cart
from shop.quotes import quote

QTY = 3000


def test_quote_for_large_cart():
    cart = Cart()
    cart.add("mug", Decimal("6.00"), quantity=QTY)

    started = time.perf_counter()
    total = quote(cart)
    elapsed = time.perf_counter() - started

    assert total == Decimal("7.14") * QTY
    assert elapsed < 0.015, f"checkout page quote took {elapsed * 1000:.1f} ms (budget 15 ms)"
