"""The container image's recipe, run without docker: deploy/docker/Dockerfile's steps in a
temporary folder standing for the image's root, then the image's command and health check.

The build stage's COPY steps copy the same files, its install step runs deploy/install.sh as
written, the last stage's COPY steps place the config, runbooks and health check; then the
image's ENTRYPOINT and CMD serve (on a loopback port, not the image's 0.0.0.0:8080), an alert
opens an incident, the web pages render (templates packaged), and the HEALTHCHECK command says
healthy, then unhealthy once the server is gone. Two steps cannot run here and are skipped: the
system packages (apt-get; CI machines have the C compiler it installs) and the system user.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from packaging.utils import canonicalize_name

from tests.deploy_files import REPO, Stage, copy_sources, dockerfile_stages, env_of
from tests.e2e.harness import HOOK, Database, channel_pair, free_port, poll
from tests.unit.docs.test_lock import read_lock

INSTALL = re.compile(r"^sh (/src/deploy/install\.sh) (\S+) (\S+)$")
NOT_HERE = ("apt-get ", "useradd ")  # need root on a Debian image; see the module docstring


class Image:
    """A folder standing for the image's file system: ``/x`` is ``root/x``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def rewrite(self, text: str) -> str:
        """Absolute image paths in ``text`` as paths under the folder."""
        for top in ("/opt/runbookd", "/etc/runbookd", "/var/lib/runbookd", "/src"):
            text = re.sub(rf"(?<![\w/.]){re.escape(top)}(?=/|\b|$)", str(self.path(top)), text)
        return text

    def copy(self, stage: Stage) -> None:
        for instruction in stage.all("COPY"):
            sources, dest, from_stage = copy_sources(instruction)
            if from_stage is not None:
                continue  # one folder stands for both stages: the build's files are there
            for source in sources:
                src = REPO / source
                target = self.path(dest) / src.name if dest.endswith("/") else self.path(dest)
                target.parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir():
                    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                    shutil.copytree(src, target, ignore=ignore, dirs_exist_ok=True)
                else:
                    shutil.copy2(src, target)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The build stage's steps, then the last stage's, into one folder (about a minute)."""
    _, stages = dockerfile_stages()
    build, final = stages[0], stages[-1]
    image = Image(tmp_path_factory.mktemp("image"))
    image.copy(build)
    for run in build.all("RUN") + final.all("RUN"):
        command = " ".join(run.args.split())
        if command.startswith(NOT_HERE):
            continue
        found = INSTALL.match(command)
        assert found, f"RUN {command!r}: this test does not know how to run it"
        done = subprocess.run(
            ["sh", *[str(image.path(p)) for p in found.groups()]],
            # The image's python is 3.11 like this one; pip's cache stays on (the image turns it
            # off to keep its layer small, which changes nothing of what is installed).
            env={**os.environ, "PYTHON": sys.executable},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    image.copy(final)
    image.path(final.one("WORKDIR").args).mkdir(parents=True, exist_ok=True)
    return image


def _command(image: Image, words: list[str]) -> list[str]:
    """An image command as it runs here: its paths under the folder, its program from PATH."""
    _, stages = dockerfile_stages()
    path = image.rewrite(env_of(stages[-1])["PATH"]).replace("$PATH", os.environ["PATH"])
    program = shutil.which(words[0], path=path)
    assert program is not None, f"{words[0]} is not on the image's PATH ({path})"
    return [program, *(image.rewrite(w) for w in words[1:])]


def test_the_image_recipe_installs_a_runbookd_that_serves(
    image: Image, database: Database, tmp_path: Path
) -> None:
    _, stages = dockerfile_stages()
    final = stages[-1]
    config = image.path("/etc/runbookd/config.yaml")
    config.write_text(image.rewrite(config.read_text()))
    port = free_port()
    argv = _command(image, final.one("ENTRYPOINT").exec_form() + final.one("CMD").exec_form())
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOKD_")}
    if database.is_postgres:
        env["RUNBOOKD_DATABASE_URL"] = database.url
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(port)],
            cwd=image.path(final.one("WORKDIR").args),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    healthcheck = re.findall(r'"([^"]*)"', final.one("HEALTHCHECK").args.partition("CMD ")[2])
    check = _command(image, [w.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for w in healthcheck])
    try:

        def ready() -> bool:
            if server.poll() is not None:
                raise AssertionError(f"serve exited with {server.returncode}:\n{log.read_text()}")
            return httpx.get(url + "/readyz", timeout=2).status_code == 200

        poll(ready, 120, "the installed runbookd to become ready")
        # The bundled runbooks, compiled by the installed durable-rules, open an incident.
        assert httpx.post(url + HOOK, json=channel_pair("alipay"), timeout=10).status_code == 202
        found = poll(
            lambda: httpx.get(url + "/api/v1/incidents", timeout=5).json()["incidents"],
            what="an incident",
        )
        assert found[0]["runbook"] == "payment-channel-abnormal"
        page = httpx.get(url + "/", timeout=10)  # the web templates and CSS were installed
        assert page.status_code == 200 and "payment-channel-abnormal" in page.text
        healthy = subprocess.run(check, capture_output=True, text=True, timeout=30, check=False)
        assert healthy.returncode == 0, healthy.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
    gone = subprocess.run(check, capture_output=True, text=True, timeout=30, check=False)
    assert gone.returncode == 1
    assert "Connection refused" in gone.stderr
    if not database.is_postgres:  # the image's default store: SQLite in its data volume
        assert (image.path("/var/lib/runbookd") / "runbookd.db").exists()


def test_the_installed_runbookd_has_the_postgresql_driver(image: Image) -> None:
    python = image.path("/opt/runbookd/bin/python")
    done = subprocess.run(
        [str(python), "-c", "import psycopg; print(psycopg.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_installed_runbookd_checks_the_bundled_runbooks(image: Image) -> None:
    runbookd = image.path("/opt/runbookd/bin/runbookd")
    done = subprocess.run(
        [str(runbookd), "check", str(image.path("/etc/runbookd/runbooks"))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok ") == len(list((REPO / "runbooks").rglob("*.yaml")))


def test_the_installed_runbookd_runs_the_runtime_lock_and_no_test_tools(image: Image) -> None:
    """The image holds the versions CI tested (requirements/runtime.txt), not whatever was newest
    on the day it was built, and none of the test suite's tools (pytest is an extra)."""
    python = image.path("/opt/runbookd/bin/python")
    listing = "import importlib.metadata as m; print('\\n'.join(d.name + ' ' + d.version for d in m.distributions()))"
    done = subprocess.run(
        [str(python), "-c", listing], capture_output=True, text=True, timeout=60, check=True
    )
    installed = {
        canonicalize_name(n): v for n, v in (line.split() for line in done.stdout.splitlines())
    }
    pins = read_lock((REPO / "requirements" / "runtime.txt").read_text(encoding="utf-8"))
    assert {n: installed.get(n) for n in pins} == {n: v for n, (v, _) in pins.items()}
    assert "pytest" not in installed
