"""Products and how they are shown on a product card."""

from dataclasses import dataclass, field


@dataclass
class Product:
    sku: str
    name: str
    category: str
    tags: list = field(default_factory=list)


def badges(product):
    """The badge line of a product card: its tags, each once."""
    return " · ".join(tag.upper() for tag in set(product.tags))


def by_category(products):
    """{category: [sku, ...]}, categories and skus sorted."""
    grouped = {}
    for p in products:
        grouped.setdefault(p.category, []).append(p.sku)
    return {c: sorted(skus) for c, skus in sorted(grouped.items())}
