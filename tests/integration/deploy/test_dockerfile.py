"""deploy/docker/Dockerfile agrees with runbookd and with itself (docker is not available in
CI: tests/e2e/test_install_recipe.py runs its install steps, this checks everything else).

Two stages, the last one running as an unprivileged user; a HEALTHCHECK on the real /healthz at
the exposed port; the command's config file, runbooks and data folder where the image puts them;
and no RUN step that CI does not run: installs belong in deploy/install.sh.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from runbookd.config.settings import load_settings
from tests.deploy_files import (
    DEPLOY,
    DOCKERFILE,
    REPO,
    copy_sources,
    dockerfile_stages,
    env_of,
    route_paths,
    serve_arguments,
)

ARGS, STAGES = dockerfile_stages()
BUILD, FINAL = STAGES[0], STAGES[-1]
CONFIG = DEPLOY / "docker" / "config.yaml"

# Every RUN the Dockerfile may have. CI runs the install recipe itself; the other two need root
# on a Debian image (system packages, a system user) and only say what they do.
RUN_STEPS = {
    "install": re.compile(r"^sh /src/deploy/install\.sh /opt/runbookd /src$"),
    "compiler for durable-rules": re.compile(
        r"^apt-get update && apt-get install -y --no-install-recommends build-essential"
        r" && rm -rf /var/lib/apt/lists/\*$"
    ),
    "the service user": re.compile(r"^useradd --system --uid (\d+) .*runbookd && install -d .*$"),
}


def _uid() -> int:
    (run,) = FINAL.all("RUN")
    found = RUN_STEPS["the service user"].match(" ".join(run.args.split()))
    assert found, run.args
    return int(found.group(1))


def test_two_stages_on_a_python_runbookd_supports() -> None:
    assert len(STAGES) == 2
    assert BUILD.name == "build"
    assert BUILD.base == FINAL.base, "the virtualenv's scripts point at the build stage's python"
    assert re.fullmatch(r"python:3\.1[12]-slim-\w+", BUILD.base)


def test_every_run_step_is_one_ci_knows() -> None:
    for stage in STAGES:
        for run in stage.all("RUN"):
            command = " ".join(run.args.split())
            assert any(p.match(command) for p in RUN_STEPS.values()), (
                f"RUN {command!r}: CI does not run it; put install steps in deploy/install.sh"
            )
    assert len(BUILD.all("RUN")) == 2 and len(FINAL.all("RUN")) == 1


def test_the_image_runs_as_an_unprivileged_user() -> None:
    user = FINAL.one("USER").args
    assert user == f"{_uid()}:{_uid()}"
    assert _uid() >= 1000


def test_copied_files_exist_and_the_build_context_sends_them() -> None:
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [p for p in (line.strip() for line in ignore) if p and not p.startswith("#")]

    def sent(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            body = pattern.removeprefix("!").rstrip("/")
            if fnmatch.fnmatch(path, body) or path.startswith(body + "/"):
                keep = negated
        return keep

    for stage in STAGES:
        for copy in stage.all("COPY"):
            sources, _, from_stage = copy_sources(copy)
            if from_stage is not None:
                continue
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
                assert sent(source), f"COPY {source}: the .dockerignore leaves it out"


def test_the_healthcheck_asks_the_real_liveness_route_at_the_exposed_port() -> None:
    healthcheck = FINAL.one("HEALTHCHECK").args
    options, _, command = healthcheck.partition("CMD ")
    # docs/operations.md: every 30 s, after 2 minutes (a start replays the journal first).
    assert {"--interval=30s", "--start-period=120s"} <= set(options.split())
    words = FINAL.one("CMD").exec_form()
    cmd = re.findall(r'"([^"]*)"', command)
    assert cmd[:2] == ["python", "/opt/runbookd/healthcheck.py"], cmd
    url = re.fullmatch(r"http://127\.0\.0\.1:(\d+)(/\S+)", cmd[2])
    assert url, cmd
    port = int(FINAL.one("EXPOSE").args)
    assert (int(url.group(1)), url.group(2)) == (port, "/healthz")
    assert "/healthz" in route_paths()
    assert words[0] == "serve"


def _copied_to(destination: str) -> str:
    for copy in FINAL.all("COPY"):
        sources, dest, _ = copy_sources(copy)
        if dest == destination:
            return sources[0]
    raise AssertionError(f"nothing is copied to {destination}")


def test_the_command_serves_the_image_config_on_the_exposed_port() -> None:
    assert FINAL.one("ENTRYPOINT").exec_form() == ["runbookd"]
    args = serve_arguments(FINAL.one("CMD").exec_form())
    assert _copied_to(args.config) == "deploy/docker/config.yaml"
    settings = load_settings(CONFIG, {})
    assert settings.server.port == int(FINAL.one("EXPOSE").args)
    assert settings.server.host == "0.0.0.0"  # published ports reach the container's address
    assert [str(p) for p in settings.runbooks] == ["/etc/runbookd/runbooks"]
    assert _copied_to("/etc/runbookd/runbooks") == "runbooks"
    assert str(settings.data_dir) == "/var/lib/runbookd"
    assert FINAL.one("VOLUME").exec_form() == [str(settings.data_dir)]
    assert FINAL.one("WORKDIR").args == str(settings.data_dir)
    assert env_of(FINAL)["PATH"].startswith("/opt/runbookd/bin:")


@pytest.mark.parametrize(("environ", "required"), [({}, False), ({"RUNBOOKD_TOKEN": "t0k"}, True)])
def test_the_image_config_asks_for_a_token_when_one_is_given(
    environ: dict[str, str], required: bool
) -> None:
    settings = load_settings(CONFIG, environ)
    token = settings.auth.bearer_token
    assert (token is not None) is required
    if token is not None:
        assert token.get_secret_value() == "t0k"


def test_the_install_recipe_is_a_posix_script_the_build_stage_copies(tmp_path: Path) -> None:
    assert _copied_build("deploy/install.sh") == "/src/deploy/install.sh"
    # install.sh installs from the runtime lock, so the build stage must have it.
    assert _copied_build("requirements/runtime.txt") == "/src/requirements/runtime.txt"
    text = (DEPLOY / "install.sh").read_text()
    assert text.startswith("#!/bin/sh\n") and "set -eu" in text
    assert env_of(BUILD)["PIP_NO_CACHE_DIR"] == "1"  # no pip cache left in the layer


def _copied_build(source: str) -> str:
    for copy in BUILD.all("COPY"):
        sources, dest, _ = copy_sources(copy)
        if source in sources:
            return dest if len(sources) == 1 and not dest.endswith("/") else dest + source
    raise AssertionError(f"the build stage does not copy {source}")
