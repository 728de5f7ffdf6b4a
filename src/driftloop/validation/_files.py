"""Reading and writing the JSON files of a baseline, with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from driftloop.errors import DataError, NotFoundError
from driftloop.workspace import atomic_write_text


def read_json(path: Path, what: str) -> Any:
    """Parse ``path``; :class:`NotFoundError` if it is missing, :class:`DataError` if not JSON."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{what} file not found: {path}", details={"file": str(path)})
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: {what} file is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno})",
            details={"file": str(path)},
        ) from None
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: {what} file is not UTF-8 text", details={"file": str(path)}
        ) from None


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON, atomically; NaN or infinity is a bug, not output."""
    atomic_write_text(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")
