"""Names that reach the filesystem are checked against one pattern: no path traversal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftloop.capture.writer import CaptureWriter
from driftloop.config import load_settings
from driftloop.errors import ConfigError
from driftloop.names import safe_name
from driftloop.workspace import Workspace
from tests.workspaces import endpoint_store

BAD = ["../x", "..", ".", "a/b", "a\\b", "/etc/passwd", "a\x00b", "", " a", "-a", "a" * 129, None]


@pytest.mark.parametrize("name", BAD)
def test_names_that_could_leave_their_folder_are_refused_in_one_sentence(name: object) -> None:
    with pytest.raises(ConfigError, match=r"cannot name a file: use 1 to 128 letters") as found:
        safe_name(name, "endpoint")
    assert found.value.message.startswith("endpoint ")
    assert found.value.message.count(". ") == 0


@pytest.mark.parametrize("name", ["churn", "AllTraffic", "a", "churn-2", "v1.2_b", "a" * 128])
def test_sagemaker_and_plain_names_pass(name: str) -> None:
    assert safe_name(name) == name


@pytest.mark.parametrize("name", ["../x", "a/b", "/tmp/x", "a\x00"])
def test_stores_refuse_them_before_touching_the_disk(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="cannot name a file"):
        endpoint_store(Workspace(tmp_path)).path(name)
    with pytest.raises(ConfigError, match="cannot name a file"):
        CaptureWriter(tmp_path / "capture", name)
    writer = CaptureWriter(tmp_path / "capture", "ok")
    with pytest.raises(ConfigError, match="variant"):
        writer.write(name, b"{}\n", datetime(2026, 1, 1, tzinfo=UTC))
    writer.close()
    assert not any(tmp_path.parent.glob("x"))
    assert not (tmp_path / "capture").exists() or not any((tmp_path / "capture").rglob("*.jsonl"))


@pytest.mark.parametrize("key", ["registry.model_name", "notifications.topics.0.name"])
def test_settings_refuse_such_names_at_load_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    if key.startswith("registry"):
        monkeypatch.setenv("DRIFTLOOP_REGISTRY__MODEL_NAME", "../models")
    else:
        monkeypatch.setenv("DRIFTLOOP_NOTIFICATIONS__TOPICS", '[{"name": "a/b"}]')
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert key in refused.value.message and "cannot name a file" in refused.value.message
