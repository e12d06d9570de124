"""Every benchmark script imports: `make bench` is not run by CI, so a moved name would
only show when someone benchmarks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_a_benchmark_script_imports(script):
    # Imported, not run: each script's work is under `if __name__ == "__main__"`.
    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('bench', {str(script)!r}); "
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]
