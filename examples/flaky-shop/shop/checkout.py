"""Checkout: turns carts into orders, reserving stock on the way."""

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass
class Order:
    number: str
    lines: dict
    total: object
    placed_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def checkout(cart, inventory, number):
    """Reserve every line of the cart and return the order."""
    for item in cart.items.values():
        inventory.reserve(item.sku, item.quantity)
    lines = {sku: item.quantity for sku, item in cart.items.items()}
    return Order(number=number, lines=lines, total=cart.total())


def run_checkout_workers(carts, inventory, workers=2):
    """Check the carts out on `workers` threads (like the web server's worker threads)."""
    orders = []
    chunks = [carts[i::workers] for i in range(workers)]

    def work(chunk, base):
        for n, cart in enumerate(chunk):
            orders.append(checkout(cart, inventory, number=f"SO-{base + n:06d}"))

    threads = [
        threading.Thread(target=work, args=(chunk, i * len(carts))) for i, chunk in enumerate(chunks)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return orders
