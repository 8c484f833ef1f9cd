"""Root conftest of the flaky-shop example.

Being at the project root, it makes pytest treat this directory as the rootdir and put it on
sys.path (pytest.ini's `pythonpath = .` does the same), so `python -m pytest` works from here with
nothing installed.
"""

from decimal import Decimal

import pytest

from shop.cart import Cart


@pytest.fixture
def cart():
    """A cart with two mugs and a poster: subtotal 20.00."""
    c = Cart()
    c.add("mug", Decimal("6.00"), quantity=2)
    c.add("poster", Decimal("8.00"))
    return c
