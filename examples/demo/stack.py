"""The demo's four processes on loopback: the platform, Prometheus, Alertmanager and runbookd.

Configuration comes from the documented examples in ``deploy/``; only the ports (and for the
runbook, the platform's address) are rewritten into a work folder, so what runs is what ships.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
RUNBOOK = REPO / "runbooks" / "03-payment" / "payment-channel-abnormal.yaml"
PLATFORM_DEFAULT = "http://127.0.0.1:8081"
T = TypeVar("T")


class StackError(RuntimeError):
    """A process did not start, or something did not happen in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Call ``check`` until it returns something truthy; StackError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.TransportError as exc:
            last = exc
        else:
            if last:
                return last  # type: ignore[no-any-return]  # truthy T from check()
        time.sleep(0.1)  # the polling interval, not a wait for the effect
    raise StackError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")


def binaries() -> dict[str, str | None]:
    """Where Prometheus and Alertmanager are (Debian: prometheus, prometheus-alertmanager)."""
    return {
        "prometheus": shutil.which("prometheus"),
        "alertmanager": shutil.which("prometheus-alertmanager") or shutil.which("alertmanager"),
    }


@dataclass
class Ports:
    platform: int = 8081
    prometheus: int = field(default_factory=free_port)
    alertmanager: int = field(default_factory=free_port)
    runbookd: int = field(default_factory=free_port)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self, name)}"


@dataclass
class Stack:
    """Start with ``start()``, stop with ``stop()`` (also on failure: it is idempotent)."""

    workdir: Path
    ports: Ports = field(default_factory=Ports)
    rate: float = 20.0
    #: runbookd's database; None = SQLite in the work folder (the demo config's default)
    database_url: str | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self) -> None:
        found = binaries()
        missing = [name for name, path in found.items() if path is None]
        if missing:
            raise StackError(
                f"not installed: {', '.join(missing)} (Debian: apt-get install prometheus "
                "prometheus-alertmanager)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_configs()
        p = self.ports
        self._spawn(
            "platform",
            [sys.executable, "-m", "examples.orderplatform", "--port", str(p.platform)]
            + ["--rate", str(self.rate), "--runbookd-url", p.url("runbookd")]
            # A probe every second instead of every 15 s: the demo's windows are seconds.
            + ["--probe-interval", "1"],
        )
        self._spawn(
            "runbookd",
            [
                sys.executable,
                "-m",
                "runbookd.cli.main",
                "serve",
                "--config",
                str(self.workdir / "runbookd.yaml"),
            ]
            + ["--host", "127.0.0.1", "--port", str(p.runbookd)],
            env={
                **({"RUNBOOKD_DATABASE_URL": self.database_url} if self.database_url else {}),
                "RUNBOOKD_DATA_DIR": str(self.workdir / "data"),
                "RUNBOOKD_CONNECTORS__PROMETHEUS__URL": p.url("prometheus"),
                "RUNBOOKD_ALERTMANAGER__API_URL": p.url("alertmanager"),
            },
        )
        self._spawn(
            "alertmanager",
            [str(found["alertmanager"]), f"--config.file={self.workdir / 'alertmanager.yml'}"]
            + [
                f"--storage.path={self.workdir / 'am'}",
                f"--web.listen-address=127.0.0.1:{p.alertmanager}",
            ]
            + [f"--web.external-url={p.url('alertmanager')}", "--cluster.listen-address="],
        )
        self._spawn(
            "prometheus",
            [str(found["prometheus"]), f"--config.file={self.workdir / 'prometheus.yml'}"]
            + [
                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{p.prometheus}",
            ],
        )
        for name, path in (
            ("platform", "/healthz"),
            ("runbookd", "/readyz"),
            ("alertmanager", "/-/ready"),
            ("prometheus", "/-/ready"),
        ):
            self._wait_ready(name, path)

    def _write_configs(self) -> None:
        p = self.ports
        prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus-demo.yml").read_text())
        prom["rule_files"] = [str(DEPLOY / "prometheus" / "rules" / "demo.yml")]
        prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
            f"127.0.0.1:{p.alertmanager}"
        ]
        prom["scrape_configs"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{p.platform}"]
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(prom))

        am = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager-demo.yml").read_text())
        am["receivers"][0]["webhook_configs"][0]["url"] = (
            p.url("runbookd") + "/api/v1/alerts/alertmanager"
        )
        (self.workdir / "alertmanager.yml").write_text(yaml.safe_dump(am))

        # The runbook calls the platform at its default address; on another port, a copy of
        # the runbook points there instead.
        runbooks = self.workdir / "runbooks"
        runbooks.mkdir(exist_ok=True)
        text = RUNBOOK.read_text().replace(PLATFORM_DEFAULT, p.url("platform"))
        (runbooks / RUNBOOK.name).write_text(text)
        conf = yaml.safe_load((DEPLOY / "runbookd-demo.yaml").read_text())
        conf["runbooks"] = [str(runbooks)]
        conf["data_dir"] = str(self.workdir / "data")
        (self.workdir / "runbookd.yaml").write_text(yaml.safe_dump(conf))

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        full_env = dict(os.environ)
        # The caller's own runbookd settings must not leak into the demo's processes.
        full_env.pop("RUNBOOKD_TEST_DATABASE_URL", None)
        full_env.pop("RUNBOOKD_DATABASE_URL", None)
        full_env.update(env or {})
        self.procs[name] = subprocess.Popen(
            argv, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )

    def _wait_ready(self, name: str, path: str) -> None:
        proc = self.procs[name]

        def ready() -> bool:
            if proc.poll() is not None:
                raise StackError(f"{name} exited with {proc.returncode}:\n{self.log(name)[-2000:]}")
            return httpx.get(self.ports.url(name) + path, timeout=2).status_code == 200

        poll(ready, 60, f"{name} to become ready")

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
