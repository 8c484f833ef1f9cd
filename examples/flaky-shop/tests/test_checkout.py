import sys
from decimal import Decimal

from shop.cart import Cart
from shop.checkout import run_checkout_workers
from shop.inventory import Inventory

ORDERS = 800


def test_checkout_reserves_stock():
    inventory = Inventory({"mug": 1000})
    carts = []
    for _ in range(ORDERS):
        cart = Cart()
        cart.add("mug", Decimal("6.00"))
        carts.append(cart)

    # Production runs the workers under heavy request load, where threads switch far more often
    # than CPython's default 5 ms; make the test behave the same way.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.00005)
    try:
        orders = run_checkout_workers(carts, inventory, workers=2)
    finally:
        sys.setswitchinterval(previous)

    assert len(orders) == ORDERS
    assert inventory.available("mug") == 1000 - ORDERS
