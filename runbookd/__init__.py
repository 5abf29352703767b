"""runbookd, the composition root: everything that puts alerts/, engine/ and connectors/ to work.

The packages, top to bottom (each may import the ones below it, never one above; checked by the
import contracts in pyproject.toml):

- ``cli``: the ``runbookd`` command line, one module per verb group.
- ``server``: the ``runbookd serve`` process: the ASGI app over api/ and web/, and uvicorn.
- ``web``: the pages people read; ``api``: the JSON API.
- ``service``: the running service: journal writer hand-off, engine thread, snapshots, executor
  wiring, metrics, process tuning.
- ``drills``, ``postmortem``, ``toolchain``: drills, post-incident summaries, and the offline
  toolchain (load/check/compile runbooks, scenario tests, replay); independent of each other.
- ``store``: the database: tables, migrations, the journal writer.
- ``config``: config.yaml's typed settings.
"""

# The one place the version is written: pyproject.toml reads it (setuptools' dynamic version), and
# `runbookd --version` and the OpenAPI document print it.
__version__ = "0.1.0"
