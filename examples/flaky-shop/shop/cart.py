"""Shopping cart."""

from dataclasses import dataclass
from decimal import Decimal

from shop.pricing import apply_discount, to_money

COUPONS = {"WELCOME10": 10, "SPRING25": 25}


class UnknownCoupon(ValueError):
    pass


@dataclass
class LineItem:
    sku: str
    unit_price: Decimal
    quantity: int

    @property
    def amount(self):
        return self.unit_price * self.quantity


class Cart:
    def __init__(self):
        self.items = {}
        self.coupon = None

    def add(self, sku, unit_price, quantity=1):
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        if sku in self.items:
            self.items[sku].quantity += quantity
        else:
            self.items[sku] = LineItem(sku, Decimal(unit_price), quantity)

    def remove(self, sku):
        del self.items[sku]

    def apply_coupon(self, code):
        if code not in COUPONS:
            raise UnknownCoupon(code)
        self.coupon = code

    def subtotal(self):
        return to_money(sum((item.amount for item in self.items.values()), Decimal(0)))

    def total(self):
        subtotal = self.subtotal()
        if self.coupon is None:
            return subtotal
        return apply_discount(subtotal, COUPONS[self.coupon])
