from shop.payments import available_providers, setup_default_providers


def test_default_payment_providers():
    setup_default_providers()
    assert available_providers() == ["card", "paypal"]
