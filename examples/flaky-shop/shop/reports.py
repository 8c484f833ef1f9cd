"""Sales reports over placed orders."""

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass
class DailySales:
    day: date
    orders: int
    revenue: Decimal


def daily_sales(orders, day=None):
    """Orders placed on `day` (default: today) and their revenue."""
    day = day or date.today()
    todays = [o for o in orders if o.placed_at.date() == day]
    return DailySales(day, len(todays), sum((o.total for o in todays), Decimal(0)))


def top_products(orders, n=3):
    """The n best-selling skus by quantity, ties broken by sku."""
    sold = Counter()
    for o in orders:
        sold.update(o.lines)
    return [sku for sku, _ in sorted(sold.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
