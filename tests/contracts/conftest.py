"""Every backend kind runs the same contract tests: a new backend passes exactly these.

A test module names the stores it exercises (``STORES``); it runs for every kind that builds
all of them. The aws kind runs against moto's server (tests/aws.py), reset before each test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.backends.catalog import KINDS, Backends, builds
from tests.aws import settings_for


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_kind" in metafunc.fixturenames:
        needed = set(getattr(metafunc.module, "STORES", ()))
        kinds = [kind for kind in sorted(KINDS) if needed <= set(builds(kind))]
        metafunc.parametrize("backend_kind", kinds)


@pytest.fixture
def backends(backend_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backends:
    """The stores of one backend kind, for a fresh workspace."""
    return Backends.from_settings(settings_for(backend_kind, tmp_path / ".driftloop", request))
