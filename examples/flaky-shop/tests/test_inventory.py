import pytest

from shop.inventory import Inventory, OutOfStock


def test_reserve_reduces_stock():
    inv = Inventory({"mug": 5})
    inv.reserve("mug", 2)
    assert inv.available("mug") == 3


def test_reserving_more_than_available_fails():
    inv = Inventory({"mug": 1})
    with pytest.raises(OutOfStock):
        inv.reserve("mug", 2)
    assert inv.available("mug") == 1


def test_release_returns_stock():
    inv = Inventory({"poster": 3})
    inv.reserve("poster", 3)
    inv.release("poster", 1)
    assert inv.available("poster") == 1


def test_every_change_is_audited():
    inv = Inventory()
    inv.restock("mug", 10)
    inv.reserve("mug", 4)
    assert inv.audit.entries == [("restock", "mug", 10), ("reserve", "mug", 4)]
