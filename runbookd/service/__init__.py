"""The running service: its parts and their wiring (``core.Service``), the engine thread that
applies the journal and commits each batch's effects in one transaction (``worker``, ``journal``,
``effects``, ``approvals``), engine snapshots (``snapshots``), the executor's ports and outbound
client (``ports``, ``outbound``), every exported metric (``metrics``) and the process tuning of a
long-running server (``allocator``, ``gcpolicy``).

May import ``drills``, ``toolchain``, ``store`` and ``config``; ``api`` and ``web`` use only
``core.Service`` (and its types), ``server`` builds it.
"""
