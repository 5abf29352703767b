"""Egress: one module per connector, a registry of them, and a fake for tests.

Installed as ``runbookd.connectors``; the bottom layer, it imports no other package of ours.
"""
