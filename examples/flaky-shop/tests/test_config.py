from shop import config


def test_reset_restores_default_settings():
    config.update(currency="GBP", store_name="Pop-up")
    config.reset()
    assert config.settings == config.DEFAULTS
