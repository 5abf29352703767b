"""``runbookd connectors``: what connectors exist, with their parameters, results and settings."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined


def _fields(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    out = []
    for name, info in model.model_fields.items():
        default = None if info.default is PydanticUndefined else info.default
        out.append(
            {
                "name": info.alias or name,
                "required": info.is_required(),
                "default": default if isinstance(default, str | int | float | bool) else None,
                "description": info.description or "",
            }
        )
    return out


def describe() -> list[dict[str, Any]]:
    from runbookd.connectors.registry import load_specs

    return [
        {
            "name": spec.name,
            "description": spec.description,
            "read_only": spec.read_only,
            "params": _fields(spec.params),
            "results": list(spec.result_fields),
            "settings": _fields(spec.settings),
        }
        for spec in sorted(load_specs().values(), key=lambda s: s.name)
    ]


def cmd_connectors(args: argparse.Namespace) -> int:
    items = describe()
    if args.name:
        items = [i for i in items if i["name"] == args.name]
        if not items:
            known = ", ".join(i["name"] for i in describe())
            print(
                f"runbookd connectors: no connector {args.name!r}; known: {known}", file=sys.stderr
            )
            return 1
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    for item in items:
        print(f"{item['name']}: {item['description']}")
        for title, key in (("params", "params"), ("settings (config.yaml)", "settings")):
            if not item[key]:
                continue
            print(f"  {title}:")
            for f in item[key]:
                need = "required" if f["required"] else f"default {f['default']!r}"
                print(f"    {f['name']:<16} {need:<22} {f['description']}")
        if item["results"]:
            print(f"  results: {', '.join(item['results'])}")
        print()
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("connectors", help="list connectors with their parameters")
    parser.add_argument("name", nargs="?", help="show one connector")
    parser.add_argument("--json", action="store_true", help="JSON instead of text")
    parser.set_defaults(func=cmd_connectors)
