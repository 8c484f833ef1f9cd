"""Plain-text invoices."""

from shop import config
from shop.pricing import format_price


def render_invoice(number, cart):
    lines = [f"{config.get('store_name')} -- invoice {number}"]
    for item in cart.items.values():
        lines.append(f"{item.quantity} x {item.sku} @ {format_price(item.unit_price)}")
    lines.append(f"Total: {format_price(cart.total())}")
    return "\n".join(lines)
