"""Shared fixtures: the CLI binary the Python envs are compared against."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    """The `gesture-lab` binary: $GESTURE_LAB_BIN, or the one `cargo test` builds.

    The comparison with the CLI is the point of the tests that use it, so a
    missing binary is a failure with instructions, never a skip."""
    path = pathlib.Path(os.environ.get("GESTURE_LAB_BIN", ROOT / "target" / "debug" / "gesture-lab"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `cargo build` (or `cargo test`) first, or set GESTURE_LAB_BIN")
    return path


def run_cli(cli: pathlib.Path, *args: str) -> str:
    return subprocess.run([str(cli), *args], check=True, capture_output=True, text=True).stdout
