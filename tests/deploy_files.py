"""Readers for the deploy files (Dockerfile, Kubernetes manifests, systemd unit) and the facts of
the service they must agree with (its HTTP routes, its command line)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
KUBERNETES = DEPLOY / "kubernetes"
KUBERNETES_TLS = DEPLOY / "kubernetes-tls"
UNIT = DEPLOY / "systemd" / "runbookd.service"


@dataclass
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of ``CMD ["a", "b"]``, or the shell words of ``CMD a b``."""
        text = self.args.strip()
        if text.startswith("["):
            words: list[str] = json.loads(text)
            return words
        return shlex.split(text)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert len(found) == 1, f"stage {self.name or self.base}: {len(found)} {keyword}"
        return found[0]


def dockerfile_stages(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """The global ``ARG`` defaults and the stages, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            base = words[0]
            for name, value in args.items():
                base = base.replace("${" + name + "}", value)
            named = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, named))
        elif not stages and keyword == "ARG":
            name, _, value = rest.partition("=")
            args[name.strip()] = value.strip()
        else:
            stages[-1].instructions.append(Instruction(keyword, rest.strip()))
    return args, stages


def copy_sources(instruction: Instruction) -> tuple[list[str], str, str | None]:
    """``COPY [--from=X] SRC... DEST`` -> (sources, destination, from-stage)."""
    words = instruction.args.split()
    source_stage = None
    while words and words[0].startswith("--"):
        flag = words.pop(0)
        if flag.startswith("--from="):
            source_stage = flag.removeprefix("--from=")
    return words[:-1], words[-1], source_stage


def env_of(stage: Stage) -> dict[str, str]:
    out: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for word in shlex.split(instruction.args):
            name, _, value = word.partition("=")
            out[name] = value
    return out


def manifests() -> dict[str, list[dict[str, Any]]]:
    """File name -> the documents in it, for every manifest but the kustomization."""
    out = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            out[path.name] = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return out


def manifest(kind: str, name: str) -> dict[str, Any]:
    for docs in manifests().values():
        for doc in docs:
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                return doc
    raise AssertionError(f"no {kind} {name!r} in {KUBERNETES}")


def kubectl() -> str:
    """kubectl's path; skips the calling test where it is not installed (no cluster is needed)."""
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed (it only adds a check of the kustomizations)")
    return found


def kustomize(folder: Path) -> list[dict[str, Any]]:
    """The documents ``kubectl kustomize folder`` renders, as ``kubectl apply -k`` would send."""
    done = subprocess.run(
        [kubectl(), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d is not None]


def unit_entries(path: Path = UNIT) -> dict[str, dict[str, list[str]]]:
    """section -> key -> every value given (systemd keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path}: {line!r} outside a section"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def route_paths() -> set[str]:
    """The paths the real app serves (built, not started: no database is opened)."""
    import tempfile

    from runbookd.server.app import build_app
    from runbookd.service.core import Options

    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Options(database_url=f"sqlite:///{tmp}/routes.db", runbooks=[]))
        return {getattr(route, "path", "") for route in app.routes}


def serve_arguments(argv: list[str]) -> Any:
    """``argv`` (without the program name) as ``runbookd`` parses it; fails on unknown options."""
    from runbookd.cli.main import build_parser

    return build_parser().parse_args(argv)
