"""Compile ``runtime/_otlp_native.c`` at install (wheel and editable), if it can.

The C module writes a lean span's OTLP bytes (runtime/_tracing_otlp.py uses it
when importable). It is built with the installing interpreter's ``sysconfig``
(``LDSHARED``, the include dir, ``EXT_SUFFIX``) into ``runtime/``; a missing
compiler or a failed compile is a warning, never a failed install: the Python
encoder is used then. ``ACTORGRAPH_NO_NATIVE=1`` skips it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("runtime") / "_otlp_native.c"


def compile_native(root: Path) -> Path:
    """Build the module next to its source; return its path. Raises on failure."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = root / "runtime" / f"_otlp_native{suffix}"
    ldshared = sysconfig.get_config_var("LDSHARED") or "cc -shared"
    command = shlex.split(os.environ.get("CC_LDSHARED", ldshared))
    partial = target.with_name(target.name + ".partial")
    command += ["-O2", "-fPIC", "-I", sysconfig.get_paths()["include"]]
    command += [str(root / SOURCE), "-o", str(partial)]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    partial.replace(target)
    return target


class NativeBuildHook(BuildHookInterface):
    """The ``custom`` build hook: compiles the module for wheels and editables."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("ACTORGRAPH_NO_NATIVE"):
            return
        root = Path(self.root)
        try:
            target = compile_native(root)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            self.app.display_warning(
                f"actorgraph: {SOURCE} not compiled, the Python encoder is used: {detail}"
            )
            return
        if version != "editable":  # an editable install imports it from the tree
            relative = target.relative_to(root).as_posix()
            build_data["force_include"][str(target)] = relative
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
