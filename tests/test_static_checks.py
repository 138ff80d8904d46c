"""The habits that keep the code as it is: ruff (mistakes, import order) on everything, and mypy,
strict on reader/ and desk/ outside the screen (configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing():
    result = _run("mypy", "reader", "desk")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout
