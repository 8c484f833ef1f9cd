"""Payment providers, registered at start-up."""

_providers = []


class Provider:
    def __init__(self, name, fee_percent):
        self.name = name
        self.fee_percent = fee_percent


def register_provider(provider):
    _providers.append(provider)
    return provider


def available_providers():
    return [p.name for p in _providers]


def setup_default_providers():
    """What the app does at start-up."""
    register_provider(Provider("card", 1.4))
    register_provider(Provider("paypal", 2.9))
