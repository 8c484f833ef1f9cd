"""Store-wide settings, kept in one module-level dict that every module reads."""

from decimal import Decimal

DEFAULTS = {
    "currency": "EUR",
    "tax_rate": Decimal("0.19"),
    "store_name": "Flaky Shop",
}

settings = dict(DEFAULTS)


def get(key):
    return settings[key]


def update(**changes):
    unknown = set(changes) - set(DEFAULTS)
    if unknown:
        raise KeyError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    settings.update(changes)


def reset():
    """Restore every setting to its default (what a fresh process starts with)."""
    settings.clear()
    settings.update(DEFAULTS)
