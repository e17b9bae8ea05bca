"""Run Python code in a child interpreter and report what it left open at exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PRELUDE = """
import atexit, gc

def _open_sockets():  # registered first, so it runs after the library's exit hooks
    import asyncio
    live = [o for o in gc.get_objects() if isinstance(o, asyncio.BaseTransport)]
    print("open sockets:", sum(not t.is_closing() for t in live))

atexit.register(_open_sockets)
"""


def run_child(code: str) -> tuple[int, str, str]:
    """Run ``code`` under ``-W error``; return (exit code, stdout, stderr).

    stdout ends with ``open sockets: N``, the asyncio transports still open
    once every exit hook has run; any warning (an unclosed stream or
    socket) shows up on stderr.
    """
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", _PRELUDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    return out.returncode, out.stdout, out.stderr
