"""flaky-shop: a deliberately small web-shop backend used to demonstrate flakehound."""
