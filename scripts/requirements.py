"""Print requirements.txt from pyproject.toml (``make requirements``); never edit it by hand."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

HEADER = "# Generated from pyproject.toml by `make requirements`; do not edit by hand.\n"


def render(pyproject: Path) -> str:
    project = tomllib.loads(pyproject.read_text())["project"]
    return HEADER + "".join(f"{dependency}\n" for dependency in project["dependencies"])


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    sys.stdout.write(render(root / "pyproject.toml"))
