"""Lint, formatting, types and the layer rules run with the tests, so CI enforces them."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

CHECKS = {
    "ruff lint": [BIN / "ruff", "check", "src", "tests", "benchmarks"],
    "ruff format": [BIN / "ruff", "format", "--check", "src", "tests", "benchmarks"],
    "mypy (core and ports)": [BIN / "mypy"],
    "import-linter layer contracts": [BIN / "lint-imports"],
}


@pytest.mark.parametrize("command", CHECKS.values(), ids=CHECKS.keys())
def test_the_code_passes(command):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
