"""Secrets read from files: ``${file:PATH}`` references and ``KEY_file`` keys, as Kubernetes
secret mounts, Docker secrets and Alertmanager's ``credentials_file`` have them.

A file's text is the value, without its trailing newlines (``echo secret > file`` and editors add
one). Problems name the key and the file, never what the file holds. Relative paths are relative
to the configuration file's folder, like the file's other paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runbookd.config.sources import Loc, Problem, field_shape

SUFFIX = "_file"


def read_secret(path_text: str, base: Path) -> tuple[str | None, str | None]:
    """The secret in the file at ``path_text``, or None and why it cannot be read."""
    if not path_text.strip():
        return None, "no file named"
    path = base / Path(path_text).expanduser()  # not resolved: named as written
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, f"secret file {str(path)!r} does not exist"
    except IsADirectoryError:
        return None, f"secret file {str(path)!r} is a directory"
    except PermissionError:
        return None, f"secret file {str(path)!r} is not readable (permission denied)"
    except OSError as exc:
        return None, f"secret file {str(path)!r} cannot be read ({exc.strerror})"
    except UnicodeDecodeError:
        return None, f"secret file {str(path)!r} is not UTF-8 text"
    return text.rstrip("\r\n"), None


def file_keys(
    data: Any, model: type[BaseModel], base: Path, loc: Loc = ()
) -> tuple[Any, list[Problem], set[Loc]]:
    """Replace every ``KEY_file: PATH`` of ``model``'s sections by ``KEY: <the file's text>``.

    Only where ``KEY`` is a key of that section and ``KEY_file`` is not (the email connector's
    ``ca_file`` names a file and stays as written). Returns the new data, the problems (their
    source left empty) and the key paths whose value came from a file, which messages must not
    show."""
    problems: list[Problem] = []
    secret: set[Loc] = set()
    return _walk(data, model, base, loc, problems, secret), problems, secret


def _walk(
    data: Any, model: type[BaseModel], base: Path, loc: Loc, problems: list[Problem], out: set[Loc]
) -> Any:
    if not isinstance(data, dict):
        return data
    fields = model.model_fields
    result: dict[str, Any] = {}
    for key, value in data.items():
        stem = key.removesuffix(SUFFIX) if isinstance(key, str) else key
        if stem != key and stem in fields and key not in fields:
            where = (*loc, key)
            if stem in data:
                problems.append(Problem("", where, f"give {stem} or {key}, not both"))
                continue
            if not isinstance(value, str):
                problems.append(Problem("", where, "must be the path of a file"))
                continue
            secret, why = read_secret(value, base)
            if why is not None:
                problems.append(Problem("", where, why))
                continue
            result[stem] = secret
            out.add((*loc, stem))
            continue
        info = fields.get(key) if isinstance(key, str) else None
        kind, sub = field_shape(info.annotation) if info is not None else ("scalar", None)
        if sub is not None and kind == "section":
            value = _walk(value, sub, base, (*loc, key), problems, out)
        elif sub is not None and isinstance(value, list):
            value = [
                _walk(v, sub, base, (*loc, key, i), problems, out) for i, v in enumerate(value)
            ]
        result[key] = value
    return result
