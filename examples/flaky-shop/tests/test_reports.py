from decimal import Decimal

from shop.cart import Cart
from shop.checkout import checkout
from shop.inventory import Inventory
from shop.reports import daily_sales


def test_daily_sales_report_counts_new_order():
    cart = Cart()
    cart.add("mug", Decimal("6.00"), quantity=2)
    order = checkout(cart, Inventory({"mug": 10}), number="SO-000001")

    report = daily_sales([order])

    assert report.orders == 1
    assert report.revenue == Decimal("12.00")
