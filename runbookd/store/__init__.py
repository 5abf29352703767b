"""Persistence: the journal of engine inputs, the outbox, incidents and their timelines."""
