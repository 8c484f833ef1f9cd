from decimal import Decimal

import pytest

from shop.cart import Cart, UnknownCoupon


def test_adding_same_sku_merges_lines(cart):
    cart.add("mug", Decimal("6.00"))
    assert cart.items["mug"].quantity == 3
    assert len(cart.items) == 2


def test_subtotal_sums_lines(cart):
    assert cart.subtotal() == Decimal("20.00")


def test_remove_line(cart):
    cart.remove("poster")
    assert cart.subtotal() == Decimal("12.00")


def test_quantity_must_be_positive():
    with pytest.raises(ValueError):
        Cart().add("mug", Decimal("6.00"), quantity=0)


def test_coupon_reduces_total(cart):
    cart.apply_coupon("WELCOME10")
    assert cart.total() == Decimal("18.00")


def test_unknown_coupon_is_rejected(cart):
    with pytest.raises(UnknownCoupon):
        cart.apply_coupon("FREESTUFF")
    assert cart.total() == Decimal("20.00")
