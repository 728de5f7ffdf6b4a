"""The drift engine: method choice, overrides, thresholds, the dataset share and stored profiles.

Agreement with Evidently itself is in tests/integration/test_drift_vs_evidently.py; here the
formulas are checked against scipy / numpy on raw samples.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats
from scipy.spatial import distance

from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.errors import ConfigError, DataError, NotFoundError
from driftloop.monitoring.drift import DriftResult, DriftSettings, detect_drift
from driftloop.monitoring.reference import ReferenceProfile

SPEC = TabularSpec(
    columns=(
        ColumnSpec("id", "categorical", role="id"),
        ColumnSpec("amount", "numeric"),
        ColumnSpec("level", "numeric"),  # three distinct values
        ColumnSpec("flag", "numeric"),  # two distinct values
        ColumnSpec("plan", "categorical"),
        ColumnSpec("binary", "categorical"),
        ColumnSpec("y", "categorical", role="target"),
    ),
    target="y",
    positive_label="1",
)


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": [f"c{i}" for i in range(rows)],
        "amount": rng.normal(50 + 10 * shift, 10, rows),
        "level": rng.choice([1.0, 2.0, 3.0], rows),
        "flag": rng.choice([0.0, 1.0], rows, p=[0.8 - shift / 2, 0.2 + shift / 2]),
        "plan": rng.choice(["basic", "plus", "pro"], rows).astype(object),
        "binary": rng.choice(["No", "Yes"], rows).astype(object),
        "y": rng.choice(["0", "1"], rows).astype(object),
    })  # fmt: skip


def check(
    reference: pd.DataFrame, current: pd.DataFrame, settings: DriftSettings | None = None
) -> DriftResult:
    return detect_drift(ReferenceProfile.build(reference, SPEC, settings), current)


def methods(result: DriftResult) -> dict[str, str]:
    return {c.column: c.method for c in result.columns}


def by_column(result: DriftResult) -> dict[str, tuple[float, bool]]:
    return {c.column: (c.score, c.drifted) for c in result.columns}


def test_small_reference_uses_p_value_tests() -> None:
    result = check(frame(1000, 1), frame(3000, 2))
    assert methods(result) == {
        "amount": "ks",
        "level": "chisquare",  # numbers with at most 5 distinct values are tested as labels
        "flag": "z",
        "plan": "chisquare",
        "binary": "z",
    }
    assert {c.threshold for c in result.columns} == {0.05}
    assert [c.column_type for c in result.columns] == ["num", "num", "num", "cat", "cat"]


def test_large_reference_uses_distances() -> None:
    result = check(frame(1001, 1), frame(500, 2))
    assert methods(result) == {
        "amount": "wasserstein",
        "level": "jensenshannon",
        "flag": "jensenshannon",
        "plan": "jensenshannon",
        "binary": "jensenshannon",
    }
    assert {c.threshold for c in result.columns} == {0.1}


def test_reference_size_counts_present_values_only() -> None:
    reference = frame(1010, 1)
    reference.loc[:19, "amount"] = np.nan
    reference.loc[20:24, "amount"] = np.inf
    assert methods(check(reference, frame(500, 2)))["amount"] == "ks"


def test_distinct_values_of_both_windows_pick_the_test() -> None:
    reference, current = frame(800, 1), frame(800, 2)
    current.loc[:9, "flag"] = 2.0  # a third value appears only in the current window
    current.loc[:49, "level"] = np.arange(4.0, 54.0)  # 53 values: tested as numbers
    assert methods(check(reference, current))["flag"] == "chisquare"
    assert methods(check(reference, current))["level"] == "ks"


def test_id_and_target_are_not_tested() -> None:
    result = check(frame(200, 1), frame(200, 2).drop(columns=["id", "y"]))
    assert [c.column for c in result.columns] == ["amount", "level", "flag", "plan", "binary"]


def test_scores_match_scipy_on_raw_samples() -> None:
    reference, current = frame(900, 1), frame(700, 2, shift=0.5)
    reference.loc[::10, "amount"] = np.nan
    small = by_column(check(reference, current))
    ref, cur = reference["amount"].dropna().to_numpy(), current["amount"].to_numpy()
    assert small["amount"][0] == pytest.approx(stats.ks_2samp(ref, cur).pvalue, abs=1e-12)
    ref_plan, cur_plan = (f["plan"].value_counts().sort_index() for f in (reference, current))
    chi = stats.chisquare(cur_plan, ref_plan * (len(current) / len(reference))).pvalue
    assert small["plan"][0] == pytest.approx(chi, abs=1e-12)

    big_reference = frame(2000, 3)
    large = by_column(check(big_reference, current))
    big = big_reference["amount"].to_numpy()
    wasserstein = stats.wasserstein_distance(big, cur) / np.std(big)
    assert large["amount"][0] == pytest.approx(wasserstein, abs=1e-12)
    edges = np.histogram_bin_edges(np.r_[big, cur], bins="sturges")
    shares = [np.histogram(x, edges)[0] / len(x) for x in (big, cur)]
    settings = DriftSettings(methods={"amount": "jensenshannon"})
    js = by_column(check(big_reference, current, settings))["amount"][0]
    assert js == pytest.approx(distance.jensenshannon(*shares), abs=1e-12)


def test_psi_override_for_numbers_and_labels() -> None:
    settings = DriftSettings(methods={"amount": "psi", "plan": "psi"})
    result = check(frame(600, 1), frame(600, 2, shift=1.0), settings)
    assert methods(result)["amount"] == methods(result)["plan"] == "psi"
    scores = by_column(result)
    assert scores["amount"][1] is True  # the mean moved by one standard deviation
    assert scores["plan"][1] is False
    assert all(c.threshold == 0.1 for c in result.columns if c.method == "psi")


def test_threshold_equal_to_score_follows_each_method() -> None:
    reference, current = frame(800, 1), frame(800, 2, shift=0.2)
    scores = by_column(check(reference, current))
    thresholds = {name: scores[name][0] for name in ("amount", "plan")}
    at_threshold = by_column(check(reference, current, DriftSettings(thresholds=thresholds)))
    assert at_threshold["amount"][1] is True  # KS: p <= threshold
    assert at_threshold["plan"][1] is False  # chi-square: p < threshold
    distance_score = by_column(check(frame(1500, 1), current))["amount"][0]
    settings = DriftSettings(thresholds={"amount": distance_score})
    assert by_column(check(frame(1500, 1), current, settings))["amount"][1] is True  # >=


def test_dataset_drifts_at_the_share() -> None:
    reference, current = frame(800, 1), frame(800, 2, shift=1.0)
    result = check(reference, current)
    assert result.drifted_columns == ["amount", "flag"]
    assert result.share == pytest.approx(2 / 5)
    assert result.dataset_drift is False
    at_share = check(reference, current, DriftSettings(drift_share=0.4))
    assert at_share.dataset_drift is True and at_share.drift_share_threshold == 0.4


def test_result_is_json_ready() -> None:
    result = check(frame(300, 1), frame(200, 2))
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["reference_rows"] == 300 and payload["current_rows"] == 200
    assert payload["columns"][0] == {
        "column": "amount",
        "column_type": "num",
        "method": "ks",
        "score": result.columns[0].score,
        "threshold": 0.05,
        "drifted": result.columns[0].drifted,
    }


def test_bad_settings_fail_with_config_errors() -> None:
    with pytest.raises(ConfigError, match="'ks' does not apply to categorical column 'plan'"):
        check(frame(100, 1), frame(100, 2), DriftSettings(methods={"plan": "ks"}))
    with pytest.raises(ConfigError, match="not features: y"):
        check(frame(100, 1), frame(100, 2), DriftSettings(thresholds={"y": 0.1}))
    with pytest.raises(ValidationError):
        DriftSettings(methods={"amount": "energy"})  # type: ignore[dict-item]
    with pytest.raises(ValidationError):
        DriftSettings(drift_shares=0.5)  # type: ignore[call-arg]


def test_save_and_load_give_the_same_results(tmp_path: Path) -> None:
    settings = DriftSettings(methods={"plan": "psi"}, thresholds={"amount": 0.2})
    profile = ReferenceProfile.build(frame(1200, 1), SPEC, settings)
    path = tmp_path / "profiles" / "reference.npz"
    profile.save(path)
    loaded = ReferenceProfile.load(path)
    assert loaded.settings == settings and loaded.rows == 1200
    assert [p.name for p in tmp_path.joinpath("profiles").iterdir()] == ["reference.npz"]
    current = frame(900, 2, shift=0.3)
    assert detect_drift(loaded, current).to_dict() == detect_drift(profile, current).to_dict()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"not a profile"),
        lambda path: path.write_bytes(path.read_bytes()[:200]),
        lambda path: np.savez(path, meta=np.frombuffer(b'{"format": "x"}', dtype=np.uint8)),
        lambda path: np.savez(path, counts_0=np.arange(3)),
        lambda path: path.write_bytes(npy_bytes(np.arange(3))),
    ],
    ids=["garbage", "truncated", "foreign", "no-metadata", "npy"],
)
def test_damaged_profile_fails_naming_the_file(
    tmp_path: Path, damage: Callable[[Path], object]
) -> None:
    path = tmp_path / "reference.npz"
    ReferenceProfile.build(frame(100, 1), SPEC).save(path)
    damage(path)
    with pytest.raises(DataError, match=r"reference\.npz: not a readable drift reference profile"):
        ReferenceProfile.load(path)


def test_tampered_counts_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "reference.npz"
    ReferenceProfile.build(frame(100, 1), SPEC).save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["values_0"] = arrays["values_0"][::-1]
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="not distinct and ascending") as caught:
        ReferenceProfile.load(path)
    assert caught.value.details == {"file": str(path)}


def test_missing_profile_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"nowhere\.npz"):
        ReferenceProfile.load(tmp_path / "nowhere.npz")


def test_missing_current_column_is_named() -> None:
    profile = ReferenceProfile.build(frame(100, 1), SPEC)
    with pytest.raises(DataError, match="current data: missing column\\(s\\) plan") as caught:
        detect_drift(profile, frame(100, 2).drop(columns=["plan"]))
    assert caught.value.details == {"columns": ["plan"]}


@pytest.mark.parametrize("column", ["amount", "plan"])
def test_all_missing_column_fails_like_evidently(column: str) -> None:
    """Evidently raises "An empty column ... was provided"; driftloop names the column too."""
    current = frame(100, 2)
    current[column] = None if column == "plan" else np.nan
    profile = ReferenceProfile.build(frame(100, 1), SPEC)
    with pytest.raises(DataError, match=f"current data: column '{column}' has no values"):
        detect_drift(profile, current)
    reference = frame(100, 1)
    reference[column] = current[column]
    with pytest.raises(DataError, match=f"reference data: column '{column}' has no values"):
        ReferenceProfile.build(reference, SPEC)


def test_text_in_a_numeric_column_is_refused() -> None:
    current = frame(100, 2).astype({"amount": str})
    with pytest.raises(DataError, match="column 'amount' must be numeric"):
        detect_drift(ReferenceProfile.build(frame(100, 1), SPEC), current)


def test_categorical_dtype_and_untyped_labels_count_like_text() -> None:
    reference, current = frame(500, 1), frame(500, 2)
    expected = detect_drift(ReferenceProfile.build(reference, SPEC), current).to_dict()
    current["plan"] = current["plan"].astype(pd.CategoricalDtype(["basic", "plus", "pro", "max"]))
    current["binary"] = current["binary"].astype("string")
    assert detect_drift(ReferenceProfile.build(reference, SPEC), current).to_dict() == expected
