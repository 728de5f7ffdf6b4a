import json
from pathlib import Path

import pandas as pd
import pytest

from driftloop.backends.local.snapshots import FolderSnapshotStore
from driftloop.config import DataSettings
from driftloop.data.preprocess import preprocess
from driftloop.data.snapshot import content_digest
from driftloop.errors import DataError
from tests.conftest import tree


def test_telco_split_files_and_snapshots(telco_csv: Path, tmp_path: Path) -> None:
    out, store = tmp_path / "out", FolderSnapshotStore(tmp_path / "snapshots")
    prepared = preprocess(telco_csv, out, DataSettings(), store)

    train = pd.read_csv(prepared.train_csv, keep_default_na=False)
    val = pd.read_csv(prepared.val_csv, keep_default_na=False)
    assert len(train) + len(val) == 7043
    assert len(val) == pytest.approx(7043 * 0.2, abs=1)
    assert "customerID" not in train.columns
    # Stratified: both sides keep the real churn rate.
    assert (train.Churn == "Yes").mean() == pytest.approx((val.Churn == "Yes").mean(), abs=0.005)
    # Raw categorical values, not encodings; blank TotalCharges stays blank.
    assert set(train.Contract) == {"Month-to-month", "One year", "Two year"}
    assert set(train.SeniorCitizen.astype(str)) == {"0", "1"}
    assert (train.TotalCharges == "").sum() + (val.TotalCharges == "").sum() == 11

    snapshot = store.read(prepared.train.digest)
    assert prepared.train.uri.endswith(f"/snapshots/{content_digest(snapshot)}.parquet")
    schema = json.loads(
        (tmp_path / "snapshots" / f"{prepared.train.digest}.schema.json").read_text()
    )
    assert schema["spec"]["target"] == "Churn"
    assert store.spec(prepared.train.digest) == prepared.spec
    assert store.get(prepared.train.digest) == prepared.train
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["train"]["snapshot"] == prepared.train.digest


def test_same_seed_same_snapshots(telco_csv: Path, tmp_path: Path) -> None:
    first = preprocess(
        telco_csv, tmp_path / "a", DataSettings(), FolderSnapshotStore(tmp_path / "s")
    )
    second = preprocess(
        telco_csv, tmp_path / "b", DataSettings(), FolderSnapshotStore(tmp_path / "s")
    )
    other = preprocess(
        telco_csv, tmp_path / "c", DataSettings(seed=1), FolderSnapshotStore(tmp_path / "s")
    )
    assert first.train.digest == second.train.digest
    assert first.train.digest != other.train.digest
    assert (tmp_path / "a" / "train.csv").read_bytes() == (
        tmp_path / "b" / "train.csv"
    ).read_bytes()


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("a,b\n1,2\n3,4\n", "target column 'Churn' is not in the data"),
        ("x,Churn\n1,No\n2,No\n3,No\n", "positive label 'Yes' never appears"),
        ("x,Churn\n1,No\n2,Yes\n3,No\n4,No\n", "needs at least 2 rows of each class"),
    ],
)
def test_bad_input_leaves_nothing_behind(tmp_path: Path, csv: str, message: str) -> None:
    source = tmp_path / "in.csv"
    source.write_text(csv)
    out, snaps = tmp_path / "out", tmp_path / "snapshots"
    with pytest.raises(DataError, match=message):
        preprocess(
            source, out, DataSettings(id_columns=[], column_types={}), FolderSnapshotStore(snaps)
        )
    assert tree(out) == set()
    assert tree(snaps) == set()


def test_generic_csv_through_config(tmp_path: Path) -> None:
    rows = "\n".join(
        f"{i},{i % 7},{'ab'[i % 2]},{'yes' if i % 3 == 0 else 'no'}" for i in range(60)
    )
    source = tmp_path / "loans.csv"
    source.write_text("loan_id,amount,grade,default\n" + rows + "\n")
    settings = DataSettings(
        target="default", positive_label="yes", id_columns=["loan_id"], column_types={}
    )
    prepared = preprocess(source, tmp_path / "out", settings, FolderSnapshotStore(tmp_path / "s"))
    assert prepared.spec.numeric_features == ["amount"]
    assert prepared.spec.categorical_features == ["grade"]
    assert prepared.train.rows + prepared.val.rows == 60
