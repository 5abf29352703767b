"""Persistence: the journal of engine inputs, the outbox, incidents and their timelines (``tables``,
Alembic ``migrations``), the engine and connection set-up (``db``), the journal writer with group
commit and dedup (``writer``, ``seen``) and the JSON codec of stored payloads (``codec``).

May import ``config``; everything that touches the database goes through here.
"""
