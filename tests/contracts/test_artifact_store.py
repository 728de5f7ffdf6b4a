"""The artifact store contract: a folder put under a key reads back, file for file, through
the URI it returned; an unknown artifact is NotFoundError."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.backends.catalog import Backends
from driftloop.errors import NotFoundError

STORES = ("artifacts",)
"""The stores these tests exercise: they run for every backend kind that builds them."""


def _folder(root: Path) -> Path:
    folder = root / ".driftloop" / "baselines" / "abc123"
    (folder / "nested").mkdir(parents=True)
    (folder / "statistics.json").write_text('{"dataset": {}}')
    (folder / "nested" / "profile.npz").write_bytes(bytes(range(256)))
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def test_a_put_folder_reads_back_through_its_uri(backends: Backends, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    uri = backends.artifacts.put_folder("baselines/abc123", folder)
    assert "abc123" in uri
    read = backends.artifacts.local_folder(uri)
    assert _files(read) == _files(folder) and len(_files(folder)) == 2
    assert backends.artifacts.local_folder(uri) == read  # read once, then reused


def test_unknown_artifacts_are_not_found(backends: Backends, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    uri = backends.artifacts.put_folder("baselines/abc123", folder)
    missing = uri.replace("abc123", "nothing-here")
    with pytest.raises(NotFoundError, match="nothing-here"):
        backends.artifacts.local_folder(missing)
    with pytest.raises(NotFoundError, match="not a folder"):
        backends.artifacts.put_folder("baselines/x", tmp_path / "no-folder")
