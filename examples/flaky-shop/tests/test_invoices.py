from decimal import Decimal

from shop.invoices import render_invoice


def test_invoice_total_line(cart):
    invoice = render_invoice("SO-000042", cart)
    assert invoice.splitlines()[-1] == "Total: €20.00"
