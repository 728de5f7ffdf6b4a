"""Every backend kind runs the same contract tests: a new backend passes exactly these."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.backends.catalog import KINDS, Backends
from driftloop.config import load_settings


@pytest.fixture(params=sorted(KINDS))
def backend_kind(request: pytest.FixtureRequest) -> str:
    """Each backend kind in turn."""
    return str(request.param)


@pytest.fixture
def backends(backend_kind: str, tmp_path: Path) -> Backends:
    """The stores of one backend kind, for a fresh workspace."""
    settings = load_settings(home=tmp_path / ".driftloop", backend={"kind": backend_kind})
    return Backends.from_settings(settings)
