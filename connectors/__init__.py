"""Egress: one module per connector, a registry of them, and a fake for tests."""
