"""Stock levels and reservations."""


class OutOfStock(Exception):
    pass


class AuditLog:
    def __init__(self):
        self.entries = []

    def record(self, action, sku, quantity):
        self.entries.append((action, sku, quantity))


class Inventory:
    def __init__(self, stock=None):
        self._stock = dict(stock or {})
        self.audit = AuditLog()

    def available(self, sku):
        return self._stock.get(sku, 0)

    def restock(self, sku, quantity):
        self._stock[sku] = self.available(sku) + quantity
        self.audit.record("restock", sku, quantity)

    def reserve(self, sku, quantity=1):
        available = self.available(sku)
        if quantity > available:
            raise OutOfStock(sku)
        self.audit.record("reserve", sku, quantity)
        self._stock[sku] = available - quantity

    def release(self, sku, quantity=1):
        self.restock(sku, quantity)
