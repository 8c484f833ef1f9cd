from shop.catalog import Product, badges, by_category


def test_product_card_badges():
    mug = Product("mug", "Enamel mug", "kitchen", tags=["sale", "new", "sale"])
    assert badges(mug) == "NEW · SALE"


def test_products_grouped_by_category():
    products = [
        Product("mug", "Enamel mug", "kitchen"),
        Product("poster", "Map poster", "decor"),
        Product("jar", "Glass jar", "kitchen"),
    ]
    assert by_category(products) == {"decor": ["poster"], "kitchen": ["jar", "mug"]}
