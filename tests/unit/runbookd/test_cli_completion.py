"""`runbookd --version` and `runbookd completion bash|zsh`, as a person at a shell uses them: the
bash script is loaded into a real bash, which is asked to complete words the way Tab does."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runbookd import __version__
from runbookd.cli.main import build_parser, main

RUNBOOKD = Path(sys.executable).parent / "runbookd"


def _script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


def _complete(script: str, line: str, cwd: Path) -> list[str]:
    """What bash offers for the last word of ``line`` (empty after a trailing space), through the
    function the script registers for `runbookd` with `complete -F`."""
    words = line.split() + ([""] if line.endswith(" ") else [])
    driver = (
        "set -e\n"
        'source "$SCRIPT"\n'
        'function=$(complete -p runbookd | sed -E "s/.* -F ([^ ]+) .*/\\1/")\n'
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
        f"COMP_LINE={line!r}\n"
        "COMP_POINT=${#COMP_LINE}\n"
        '"$function" runbookd "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    path = cwd / "completion.bash"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", driver],
        env={"SCRIPT": str(path), "PATH": "/usr/bin:/bin"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return sorted(w.strip() for w in done.stdout.splitlines() if w.strip())


def _verbs() -> set[str]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"runbookd {__version__}\n"


def test_the_installed_command_prints_the_same_version() -> None:
    done = subprocess.run(
        [str(RUNBOOKD), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == f"runbookd {__version__}"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_every_verb_and_verbs_by_prefix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script("bash", capsys)
    assert _complete(script, "runbookd ", tmp_path) == sorted(_verbs())
    assert "completion" in _verbs()
    assert _complete(script, "runbookd ch", tmp_path) == ["check", "check-config"]
    assert _complete(script, "runbookd incidents ap", tmp_path) == ["approvals", "approve"]
    assert _complete(script, "runbookd completion ", tmp_path) == ["bash", "zsh"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_options_and_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script("bash", capsys)
    assert _complete(script, "runbookd serve --c", tmp_path) == ["--config"]
    assert _complete(script, "runbookd --ver", tmp_path) == ["--version"]
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runs.txt").write_text("")
    # A verb that takes runbook paths completes file names; an incident id does not.
    assert _complete(script, "runbookd check run", tmp_path) == ["runbooks", "runs.txt"]
    assert _complete(script, "runbookd incidents show run", tmp_path) == []


class Zsh:
    """An interactive zsh in a tmux pane, with the completion script installed as the doc says
    (as ``_runbookd`` in a folder on ``fpath``) and compinit run: keys go in, the screen comes
    out."""

    def __init__(self, home: Path, functions: Path) -> None:
        self.socket = f"runbookd-test-{id(self)}"
        (home / ".zshrc").write_text(
            f"fpath=({functions} $fpath)\n"
            "autoload -Uz compinit && compinit -u -D\n"
            f"PATH={RUNBOOKD.parent}:$PATH\n"
            "PS1='zsh> '\n",
            encoding="utf-8",
        )
        env = f"env -i HOME={home} ZDOTDIR={home} TERM=xterm PATH=/usr/bin:/bin"
        self._tmux("new-session", "-d", "-s", "z", "-x", "120", "-y", "30", f"{env} zsh -i")
        self.wait_for("zsh>")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "z")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (shown := self.screen()):
                return shown
            time.sleep(0.05)  # a polling interval, not a wait for the effect
        raise AssertionError(f"zsh never showed {text!r}; the screen:\n{self.screen()}")

    def type(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "z", "C-u", *keys)

    def close(self) -> None:
        self._tmux("kill-server")


@pytest.mark.skipif(
    shutil.which("zsh") is None or shutil.which("tmux") is None,
    reason="needs Debian's zsh and tmux (.ci/run installs them)",
)
def test_zsh_completes_verbs_options_and_their_descriptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "_runbookd").write_text(_script("zsh", capsys), encoding="utf-8")
    (tmp_path / "home").mkdir()
    zsh = Zsh(tmp_path / "home", functions)
    try:
        zsh.type("runbookd serve --con", "Tab")
        zsh.wait_for("zsh> runbookd serve --config")
        zsh.type("runbookd check-c", "Tab")
        zsh.wait_for("zsh> runbookd check-config")
        # Two verbs share the prefix: the second Tab lists both, with their help lines.
        zsh.type("runbookd incidents appr", "Tab", "Tab")
        shown = zsh.wait_for("approve")
        assert "approvals" in shown and "approve a waiting step" in shown
    finally:
        zsh.close()
