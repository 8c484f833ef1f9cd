from datetime import date, datetime, timezone
from decimal import Decimal

from shop.checkout import Order
from shop.reports import daily_sales, top_products


def order(number, lines, total, placed_at):
    return Order(number=number, lines=lines, total=Decimal(total), placed_at=placed_at)


ORDERS = [
    order("SO-1", {"mug": 2}, "12.00", datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)),
    order("SO-2", {"poster": 1, "mug": 1}, "14.00", datetime(2026, 3, 1, 18, 5, tzinfo=timezone.utc)),
    order("SO-3", {"poster": 3}, "24.00", datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)),
]


def test_daily_sales_for_a_given_day():
    report = daily_sales(ORDERS, day=date(2026, 3, 1))
    assert (report.orders, report.revenue) == (2, Decimal("26.00"))


def test_daily_sales_for_a_day_without_orders():
    report = daily_sales(ORDERS, day=date(2026, 2, 28))
    assert (report.orders, report.revenue) == (0, Decimal(0))


def test_top_products_breaks_ties_by_sku():
    assert top_products(ORDERS, n=2) == ["poster", "mug"]
    tie = order("SO-4", {"mug": 1, "cap": 1}, "9.00", datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    assert top_products([tie]) == ["cap", "mug"]
