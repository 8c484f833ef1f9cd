from decimal import Decimal

from shop import config
from shop.pricing import format_price


def test_us_storefront_shows_dollar_prices():
    config.update(currency="USD", store_name="Flaky Shop US")
    assert format_price(Decimal("12.5")) == "$12.50"
