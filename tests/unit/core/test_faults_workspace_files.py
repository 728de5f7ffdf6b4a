"""Damaged workspace files that are rewritten whole (the rules file, dataset snapshots): one
sentence naming the file and what to do, never a parser's traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from driftloop.backends.local.rules import FileRuleStore
from driftloop.backends.local.snapshots import FolderSnapshotStore
from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.errors import ConfigError, DataError

SPEC = TabularSpec(
    (ColumnSpec("x", "numeric", "feature"), ColumnSpec("y", "categorical", "target")),
    "y",
    "Yes",
    "No",
)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b'{"rules": [{"name": "a", "targ', "not JSON: "),
        (b"[1, 2]", 'no "rules" list'),
        (b'{"rules": [{"name": "a", "targets": 3}]}', "rules.0.targets: "),
        (b'{"rules": [{"name": "../a"}]}', "rule '../a' cannot name a file"),
    ],
)
def test_a_damaged_rules_file_is_one_sentence(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "rules.json"
    path.write_bytes(content)
    store = FileRuleStore(path)
    for use in (store.list, lambda: store.put({"name": "b"})):
        with pytest.raises(ConfigError) as found:
            use()
        message = found.value.message
        assert message.startswith(f"{path} is unreadable ({why}")
        assert message.endswith("): fix it, or move it aside and put the rules again")
        assert "\n" not in message
    assert path.read_bytes() == content


def test_a_damaged_snapshot_names_its_file(tmp_path: Path) -> None:
    store = FolderSnapshotStore(tmp_path)
    snapshot = store.put(pd.DataFrame({"x": [1.0, 2.0], "y": ["Yes", "No"]}), SPEC, name="d")
    data = tmp_path / f"{snapshot.digest}.parquet"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # cut short
    for use in (store.get, store.read):
        with pytest.raises(DataError, match="delete it and store the dataset again") as found:
            use(snapshot.digest)
        assert found.value.message.startswith(f"snapshot file {data} is unreadable (")
    schema = tmp_path / f"{snapshot.digest}.schema.json"
    schema.write_text('{"spec": ')
    with pytest.raises(DataError, match=f"snapshot file {schema} is unreadable"):
        store.spec(snapshot.digest)
