"""`runbookd serve` caps glibc's malloc arenas, so the threads' freed memory stays reusable.

The cap is checked where it shows: in a fresh process, eight threads that each allocate get their
own arena without it and share two with it (counted with ``malloc_info``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from runbookd.cli import serve
from runbookd.service import allocator

pytestmark = pytest.mark.skipif(
    allocator._glibc() is None, reason="the arena cap only exists with glibc"
)

THREADS = """
import ctypes, os, sys, tempfile, threading
from runbookd.service import allocator
print(allocator.cap_arenas() if sys.argv[1] == "cap" else "-")
barrier = threading.Barrier(8)
def work():
    held = [bytearray(4096) for _ in range(100)]  # past pymalloc's limit: glibc's malloc
    barrier.wait()  # every thread holds memory at once
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
path = tempfile.mktemp()
fp = libc.fopen(path.encode(), b"w"); libc.malloc_info(0, fp); libc.fclose(fp)
print(open(path).read().count("<heap nr=")); os.unlink(path)
"""


def arenas(mode: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", THREADS, mode],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()
    return out[0], int(out[1])


def test_capped_threads_share_two_arenas() -> None:
    applied, count = arenas("cap", env={"PATH": "/usr/bin:/bin"})
    assert applied == "True"
    assert count <= allocator.ARENA_MAX


def test_without_the_cap_each_thread_takes_an_arena() -> None:
    assert arenas("none", env={"PATH": "/usr/bin:/bin"})[1] > allocator.ARENA_MAX


def test_the_operators_malloc_arena_max_wins() -> None:
    applied, count = arenas("cap", env={"PATH": "/usr/bin:/bin", "MALLOC_ARENA_MAX": "4"})
    assert applied == "False"
    assert count <= 4


def test_serve_caps_the_arenas_before_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(allocator, "cap_arenas", lambda: calls.append("cap") or True)
    monkeypatch.setattr(serve, "_settings", lambda args: calls.append("settings"))
    assert serve.cmd_serve(argparse.Namespace(config=None, host=None, port=None)) == 2
    assert calls == ["cap", "settings"]


FRAGMENTED = """
import re, sys
from runbookd.service.allocator import Trimmer
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
held = [bytearray(2048) for _ in range(40_000)]  # about 80 MB from glibc's malloc
keep = held[::50]  # one survivor every 100 kB pins the top of the heap
del held
before = rss()
now = [0.0]
trimmer = Trimmer(every=60, clock=lambda: now[0])
early = trimmer.maybe_trim()
now[0] = 60.0
print(early, trimmer.maybe_trim(), before, rss())
"""


def test_a_trim_hands_freed_pages_back_once_a_minute() -> None:
    out = subprocess.run(
        [sys.executable, "-c", FRAGMENTED], capture_output=True, text=True, check=True
    ).stdout.split()
    early, trimmed, before, after = out[0], out[1], int(out[2]), int(out[3])
    assert (early, trimmed) == ("False", "True")
    assert before - after > 40_000  # KiB: most of the freed 80 MB left the RSS
