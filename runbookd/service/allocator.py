"""glibc's allocator in a long-running server: fewer arenas, and free pages handed back.

glibc gives each new thread that allocates an arena of its own, up to 8 per core, and memory
freed in an arena serves only the threads attached to it. runbookd's threads (event loop, engine,
writer, connector pool, ``to_thread`` workers) each settle on an arena, so the memory a burst
freed in one arena stays resident while the next burst grows another one. A cap of two arenas
keeps the threads' frees reusable by each other. The operator's ``MALLOC_ARENA_MAX`` wins, and on
a C library other than glibc (musl, macOS) nothing is changed.

Freed chunks in the middle of an arena stay resident too: glibc only gives back the top of a heap
on its own. ``Trimmer`` calls ``malloc_trim`` once a minute, which hands every free page of every
arena back to the kernel, so what a burst or the resolved incidents leaving memory freed does not
stay counted in the RSS until the same sizes are asked for again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from collections.abc import Callable

#: Arenas the server's threads share (glibc's default is 8 per core).
ARENA_MAX = 2
#: Least seconds between two ``malloc_trim`` calls (it walks every arena under its lock).
TRIM_EVERY_S = 60.0
#: ``mallopt`` parameter number of M_ARENA_MAX in glibc's malloc.h.
_M_ARENA_MAX = -8


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    # musl has no gnu_get_libc_version; its mallopt is a stub that must not be relied on.
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def cap_arenas(limit: int = ARENA_MAX) -> bool:
    """Let at most ``limit`` malloc arenas exist; False when not applied (not glibc, or the
    operator set ``MALLOC_ARENA_MAX``). Call it before the server starts its threads."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(libc.mallopt(_M_ARENA_MAX, limit) == 1)


class Trimmer:
    """Hands free malloc pages back to the kernel, at most once every ``every`` seconds."""

    def __init__(
        self, every: float = TRIM_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._libc = _glibc()
        self._every = every
        self._clock = clock
        self._last = clock()
        #: calls made so far
        self.trims = 0

    def maybe_trim(self) -> bool:
        """Trim if the last trim is ``every`` seconds old; True when it did."""
        if self._libc is None or self._clock() - self._last < self._every:
            return False
        self._libc.malloc_trim(0)
        self._last = self._clock()
        self.trims += 1
        return True
