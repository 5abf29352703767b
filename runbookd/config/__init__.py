"""config.yaml: its sections as typed models (``sections``), the whole ``Settings`` and how they
are loaded and checked (``settings``), where values come from before validation (``sources``:
the file, ``${env:NAME}``, ``RUNBOOKD_*``), and the crontab lines of schedules (``cron``).

The bottom of runbookd: it imports no other runbookd package.
"""
