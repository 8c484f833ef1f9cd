"""Nightly CSV export of orders for the accounting system."""

import csv
import os
import tempfile
import time
from datetime import datetime, timezone

EXPORT_PATH = os.path.join(tempfile.gettempdir(), "flaky-shop-export.csv")


def export_orders(orders, path=EXPORT_PATH):
    """Write the orders as CSV; returns the export's batch stamp (first line of the file)."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    with open(path, "w", newline="") as f:
        f.write(f"# batch {stamp}\n")
        writer = csv.writer(f)
        writer.writerow(["number", "total"])
        for o in orders:
            writer.writerow([o.number, o.total])
    return stamp


def notify_accounting(path=EXPORT_PATH):
    """Tell accounting a batch is ready (a slow HTTP call in production)."""
    time.sleep(0.1)


def read_export(path=EXPORT_PATH):
    """(batch stamp, [(number, total), ...]) of an export file."""
    with open(path, newline="") as f:
        header = f.readline()
        rows = list(csv.reader(f))
    return header.removeprefix("# batch ").strip(), [tuple(r) for r in rows[1:]]
