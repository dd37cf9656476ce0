"""The house rules that a reviewer would otherwise check by hand: strict typing and lint stay clean."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "mypy"],
    [sys.executable, "-m", "ruff", "check", "."],
], ids=["mypy-strict", "ruff"])
def test_static_checks_are_clean(command: list[str]) -> None:
    if command[2] == "ruff" and shutil.which("ruff") is None and subprocess.run(
            [sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
