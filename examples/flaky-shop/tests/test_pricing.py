from decimal import Decimal

from shop.pricing import add_tax, apply_discount, format_price, to_money


def test_to_money_rounds_half_up():
    assert to_money("2.675") == Decimal("2.68")
    assert to_money(3) == Decimal("3.00")


def test_add_tax_with_explicit_rate():
    assert add_tax(Decimal("10.00"), "0.07") == Decimal("10.70")


def test_format_price_in_given_currency():
    assert format_price(Decimal("1234.5"), currency="GBP") == "£1,234.50"


def test_discount_on_round_amount():
    assert apply_discount(Decimal("80.00"), 25) == Decimal("60.00")


def test_percentage_discount_rounds_to_nearest_cent():
    # 10 % off 29.95 is 26.955, which must round to 26.96.
    assert apply_discount(Decimal("29.95"), 10) == Decimal("26.96")
