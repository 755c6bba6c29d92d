"""The stubs (`_certless.pyi`) and inline types (`py.typed`) match the built module and azure-core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "typing"


def mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", os.devnull, *args],
        capture_output=True,
        text=True,
        cwd=HERE,
    )


def test_stubtest_matches_the_built_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "certless", "--mypy-config-file", str(HERE / "mypy.ini")],
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_credentials_satisfy_azure_core_protocols() -> None:
    result = mypy("--strict", "uses_azure_core_protocols.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_misuse_is_reported() -> None:
    result = mypy("--strict", "misuses_the_api.py")
    expected = [n for n, line in enumerate((HERE / "misuses_the_api.py").read_text().splitlines(), 1) if "# E:" in line]
    reported = {int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error:" in line}
    assert result.returncode == 1, result.stdout + result.stderr
    assert set(expected) <= reported, result.stdout
