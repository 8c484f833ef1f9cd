import re

from shop.shipping import split_into_parcels


def test_split_shipment_labels():
    items = [("bookshelf", 4200), ("lamp", 1500), ("mug", 350)]
    parcels = split_into_parcels(items, max_weight_g=5000)

    assert [p.items for p in parcels] == [["bookshelf", "mug"], ["lamp"]]
    for parcel in parcels:
        assert re.fullmatch(r"PCL-\d{8}", parcel.label), parcel.label
