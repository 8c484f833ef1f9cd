from datetime import datetime, timezone
from decimal import Decimal

from shop.checkout import Order
from shop.export import export_orders, notify_accounting, read_export


def test_nightly_order_export():
    placed = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    orders = [
        Order("SO-000001", {"mug": 2}, Decimal("12.00"), placed),
        Order("SO-000002", {"poster": 1}, Decimal("8.00"), placed),
    ]

    batch = export_orders(orders)
    notify_accounting()
    read_batch, rows = read_export()

    assert read_batch == batch
    assert rows == [("SO-000001", "12.00"), ("SO-000002", "8.00")]
