"""Splitting orders into parcels and labelling them."""

import random
from dataclasses import dataclass, field


@dataclass
class Parcel:
    label: str
    items: list = field(default_factory=list)
    weight_g: int = 0


def new_label():
    """A carrier label: 'PCL-' and an eight-digit number."""
    return f"PCL-{random.randint(1, 99_999_999)}"


def split_into_parcels(items, max_weight_g=5000):
    """Pack (sku, weight_g) items into as few parcels as fit, first fit in the order given."""
    parcels = []
    for sku, weight in items:
        if weight > max_weight_g:
            raise ValueError(f"{sku} is too heavy to ship ({weight} g)")
        for parcel in parcels:
            if parcel.weight_g + weight <= max_weight_g:
                break
        else:
            parcel = Parcel(label=new_label())
            parcels.append(parcel)
        parcel.items.append(sku)
        parcel.weight_g += weight
    return parcels
