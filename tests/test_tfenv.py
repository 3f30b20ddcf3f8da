"""dlrun.tfenv: what a process that trains gets set up with before TensorFlow starts."""

from __future__ import annotations

import ctypes.util
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlrun.tfenv import MALLOC_ARENAS

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") != "libc.so.6",
    reason="malloc arenas are glibc's",
)

# More threads than the cap allocate at once, then glibc's malloc_stats prints one
# "Arena N:" block per arena to stderr. Without a cap, each thread gets an arena of its own.
THREADS = 2 * MALLOC_ARENAS + 2
PROBE = f"""
import ctypes, sys, threading
{{setup}}
barrier = threading.Barrier({THREADS + 1})
def allocate():
    blocks = [bytearray(1000) for _ in range(100)]
    barrier.wait()
threads = [threading.Thread(target=allocate) for _ in range({THREADS})]
for thread in threads:
    thread.start()
barrier.wait()
ctypes.CDLL("libc.so.6").malloc_stats()
for thread in threads:
    thread.join()
"""


def arenas(setup: str, **env: str) -> int:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    environment.update(env, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        check=True,
    )
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_a_process_that_imports_keras_keeps_malloc_to_an_arena_per_core() -> None:
    # TensorFlow's own thread pools start at import; they too get no arenas of their own.
    assert arenas("from dlrun.tfenv import import_keras; import_keras()") == MALLOC_ARENAS
    assert arenas("") == THREADS + 1  # the same threads without dlrun: the probe can tell


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
def test_a_jax_process_leaves_malloc_its_arenas() -> None:
    """XLA's CPU threads ran JAX's steps slower with an arena per core (README)."""
    setup = "from dlrun.tfenv import import_keras; import_keras()"
    assert arenas(setup, KERAS_BACKEND="jax") > THREADS


def test_the_users_malloc_arena_max_is_left_alone() -> None:
    setup = "from dlrun.tfenv import cap_malloc_arenas; assert not cap_malloc_arenas()"
    assert arenas(setup, MALLOC_ARENA_MAX=str(MALLOC_ARENAS + 1)) == MALLOC_ARENAS + 1


# 200 MB in 4 kB blocks (malloc's, not pymalloc's), one in 50 kept: what is freed lies
# between live blocks, where free() alone never hands it back.
FRAGMENTED = """
from dlrun.tfenv import release_memory
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
blocks = [bytearray(4000) for _ in range(50_000)]
kept = blocks[::50]
del blocks
before = rss()
release_memory()
print(before, rss())
"""


def test_release_memory_hands_freed_memory_back() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FRAGMENTED],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        check=True,
    )
    before, after = map(int, done.stdout.split())
    assert before - after > 100, (before, after)
