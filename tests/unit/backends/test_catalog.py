"""The composition root: the configured kind's stores, or one sentence saying what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.backends import catalog
from driftloop.backends.catalog import Backends
from driftloop.config import BackendSettings, load_settings
from driftloop.errors import ConfigError


def test_the_local_kind_builds_each_store_on_first_use(tmp_path: Path) -> None:
    stores = Backends.from_settings(load_settings(home=tmp_path / "ws"))
    assert stores.snapshots.put  # asking for one store creates nothing of the others
    assert not (tmp_path / "ws").exists()
    assert type(stores.metrics).__module__ == "driftloop.backends.local.metrics"
    assert stores.metrics is stores.metrics
    for name in catalog.builds("local"):
        assert getattr(stores, name) is not None


def test_a_store_the_backend_does_not_build_is_one_sentence() -> None:
    stores = Backends({"metrics": lambda _: "m"}, "cloud")
    assert stores.metrics == "m"
    with pytest.raises(
        ConfigError, match=r'the cloud backend has no alarms store yet; use backend\.kind "local"'
    ):
        _ = stores.alarms
    with pytest.raises(ConfigError, match="unknown stores: teapot"):
        Backends({"teapot": lambda _: None})
    assert set(catalog.STORES) - set(catalog.builds("local")) == {"training"}


def test_a_kind_whose_sdk_is_missing_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(catalog.KINDS, "cloud", ("driftloop.backends.not_installed", "aws"))
    settings = load_settings(home=tmp_path / "ws")
    settings = settings.model_copy(
        update={"backend": BackendSettings.model_construct(kind="cloud")}
    )
    with pytest.raises(ConfigError, match=r"the cloud backend cannot load .*driftloop\[aws\]"):
        Backends.from_settings(settings)
    settings = settings.model_copy(update={"backend": BackendSettings.model_construct(kind="x")})
    with pytest.raises(ConfigError, match=r"backend\.kind 'x' is not one of"):
        Backends.from_settings(settings)


def test_an_unknown_kind_in_the_config_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"backend\.kind"):
        load_settings(home=tmp_path / "ws", backend={"kind": "aws"})
