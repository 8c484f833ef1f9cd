from shop.cache import TTLCache


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_hit_returns_cached_value():
    cache = TTLCache(clock=FakeClock())
    cache.set("mug", 6)
    assert cache.get("mug") == 6


def test_entries_expire_after_ttl():
    clock = FakeClock()
    cache = TTLCache(ttl=30, clock=clock)
    cache.set("mug", 6)
    clock.now += 29.9
    assert cache.get("mug") == 6
    clock.now += 0.1
    assert cache.get("mug") is None
    assert len(cache) == 0


def test_least_recently_used_entry_is_evicted():
    cache = TTLCache(maxsize=2, clock=FakeClock())
    cache.set("a", 1)
    cache.set("b", 2)
    cache.get("a")
    cache.set("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)


def test_invalidate_removes_entry():
    cache = TTLCache(clock=FakeClock())
    cache.set("mug", 6)
    cache.invalidate("mug")
    cache.invalidate("never-set")
    assert cache.get("mug", "missing") == "missing"
