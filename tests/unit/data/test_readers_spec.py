from pathlib import Path

import pandas as pd
import pytest

from driftloop.data.readers import read_table
from driftloop.data.spec import TabularSpec, apply_spec, infer_spec, target_vector
from driftloop.errors import DataError, NotFoundError


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="input file not found"):
        read_table(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"   \n\n", "file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary content"),
        (b"a,b,c\n", "header but no rows"),
        (b"a,b,a\n1,2,3\n", "duplicate column name"),
        (b"a,b\n1,2\n3,4,5,6\n", "not a valid CSV"),
        (b"a,b\n\xff\xfe\xfa,2\n1,2\n", "not UTF-8"),
    ],
)
def test_bad_csv_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as raised:
        read_table(path)
    assert str(path) in raised.value.message


def test_blank_and_space_cells_are_missing(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path / "d.csv", "x,y\n1, \n2,\n3,b\n"))
    assert frame["y"].isna().tolist() == [True, True, False]
    assert frame["x"].tolist() == ["1", "2", "3"]


def test_infer_spec_kinds_roles_and_overrides(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path / "d.csv", "id,n,c,code,t\n1,1.5,a,0,y\n2,,b,1,n\n"))
    spec = infer_spec(
        frame, target="t", positive_label="y", id_columns=["id"], kinds={"code": "categorical"}
    )
    assert spec.numeric_features == ["n"]
    assert spec.categorical_features == ["c", "code"]
    assert [c.role for c in spec.columns] == ["id", "feature", "feature", "feature", "target"]
    assert TabularSpec.from_dict(spec.to_dict()) == spec


def test_infer_spec_missing_target(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path / "d.csv", "a,b\n1,2\n"))
    with pytest.raises(DataError, match="target column 'Churn' is not in the data"):
        infer_spec(frame, target="Churn", positive_label="Yes")


def test_apply_spec_names_column_and_row_of_bad_number() -> None:
    spec = infer_spec(
        pd.DataFrame({"n": ["1", "2"], "t": ["y", "n"]}), target="t", positive_label="y"
    )
    bad = pd.DataFrame({"n": ["1", "two"], "t": ["y", "n"]})
    with pytest.raises(DataError, match=r"column 'n' must be numeric, row 2 holds 'two'"):
        apply_spec(bad, spec, source="f.csv")
    with pytest.raises(DataError, match=r"missing column\(s\) n"):
        apply_spec(pd.DataFrame({"t": ["y"]}), spec)
    with pytest.raises(DataError, match="infinity at row 1"):
        apply_spec(pd.DataFrame({"n": ["inf"], "t": ["y"]}), spec)


def test_target_vector_checks_classes() -> None:
    spec = infer_spec(pd.DataFrame({"n": ["1"], "t": ["y"]}), target="t", positive_label="y")
    assert target_vector(pd.DataFrame({"t": ["y", "n", "y"]}), spec).tolist() == [1, 0, 1]
    with pytest.raises(DataError, match="never appears"):
        target_vector(pd.DataFrame({"t": ["n", "n"]}), spec)
    with pytest.raises(DataError, match="exactly two classes"):
        target_vector(pd.DataFrame({"t": ["y", "n", "maybe"]}), spec)
    with pytest.raises(DataError, match="empty at row 2"):
        target_vector(pd.DataFrame({"t": ["y", None]}), spec)


def test_real_telco_types(telco_csv: Path) -> None:
    frame = read_table(telco_csv)
    spec = infer_spec(
        frame,
        target="Churn",
        positive_label="Yes",
        id_columns=["customerID"],
        kinds={"SeniorCitizen": "categorical"},
    )
    assert spec.numeric_features == ["tenure", "MonthlyCharges", "TotalCharges"]
    typed = apply_spec(frame, spec)
    assert "customerID" not in typed
    assert int(typed["TotalCharges"].isna().sum()) == 11
    assert sorted(typed["SeniorCitizen"].unique()) == ["0", "1"]
    assert typed["tenure"].dtype == "float64"
