"""deploy/systemd/runbookd.service: systemd accepts it, and it runs runbookd as documented.

`systemd-analyze verify` checks every key and value against this machine's systemd (with the
service's executable pointed at the runbookd under test, as the unit's own path exists only once
installed). The rest is what the unit promises: an unprivileged user, restarts, reload by SIGHUP,
a command line runbookd parses, the state folder as its data_dir, and the hardening options.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from tests.deploy_files import UNIT, serve_arguments, unit_entries
from tests.tools import need

UNIT_TEXT = UNIT.read_text(encoding="utf-8")
SERVICE = unit_entries()["Service"]
INSTALLED = "/opt/runbookd/bin/runbookd"


def _one(key: str) -> str:
    (value,) = SERVICE[key]
    return value


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    runbookd = Path(sys.executable).parent / "runbookd"
    assert runbookd.exists(), f"no runbookd next to {sys.executable}"
    unit = tmp_path / "runbookd.service"
    unit.write_text(UNIT_TEXT.replace(INSTALLED, str(runbookd)))
    done = subprocess.run(
        [need("systemd-analyze", "systemd"), "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Warnings (an unknown key, a bad value) exit 0 too: any word about the unit fails the test.
    assert done.returncode == 0, done.stdout + done.stderr
    assert "runbookd.service" not in done.stdout + done.stderr, done.stdout + done.stderr


def test_it_serves_as_an_unprivileged_user_and_restarts_always() -> None:
    assert _one("User") == _one("Group") == "runbookd"
    assert _one("Restart") == "always"
    assert _one("ExecReload") == "/bin/kill -HUP $MAINPID"


def test_the_command_is_one_runbookd_parses() -> None:
    argv = shlex.split(_one("ExecStart"))
    assert argv[0] == INSTALLED  # where deploy/install.sh /opt/runbookd puts it
    args = serve_arguments(argv[1:])
    assert args.command == "serve"
    assert args.config == "/etc/runbookd/config.yaml"


def test_the_state_folder_is_the_working_directory() -> None:
    # data_dir ./data or an absolute /var/lib/runbookd: both land in the folder systemd creates
    # for the service user (StateDirectory is relative to /var/lib).
    assert _one("StateDirectory") == "runbookd"
    assert _one("WorkingDirectory") == "/var/lib/runbookd"


def test_hardening_options_are_on() -> None:
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictSUIDSGID": "yes",
        "SystemCallFilter": "@system-service",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }
    assert {key: _one(key) for key in expected} == expected
