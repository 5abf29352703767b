"""The migrations build exactly the schema the code uses, in one line of history.

Several branches add tables at once; two migrations with the same parent would leave Alembic with
two heads and `runbookd serve` unable to upgrade, and a table added to ``tables.py`` without a
migration would exist in tests (metadata) but not in a user's upgraded database.
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from runbookd.store import db
from runbookd.store import tables as t


def test_one_head() -> None:
    script = ScriptDirectory.from_config(db._config(create_engine("sqlite://")))
    assert len(script.get_heads()) == 1, script.get_heads()


def test_upgraded_schema_matches_the_tables(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    # Only structural differences count: tables and columns missing on either side.
    structural = [
        d
        for d in diff
        if isinstance(d, tuple)
        and d[0] in {"add_table", "remove_table", "add_column", "remove_column"}
    ]
    assert structural == []
