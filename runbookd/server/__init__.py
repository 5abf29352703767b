"""The ``runbookd serve`` process: ``create_app(settings)`` puts the API, the pages and the ingest
routes over one ``Service``, and ``serve`` tunes the interpreter and runs uvicorn.

May import ``api``, ``web``, ``service``, ``drills`` and ``config``; only ``cli`` imports it.
"""
