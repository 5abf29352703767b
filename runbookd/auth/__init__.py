"""Who acts: roles, principals, hashed tokens and the registry of users and service accounts.

Pure data and computation (no HTTP, no store): the API authenticates requests into a
``Principal``; the service journals it with every action; inbound integrations (Slack,
PagerDuty) look their users up here.
"""
