"""The compiled fast path answers exactly as the scikit-learn pipeline it was compiled from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from driftloop.data.generator import generate
from driftloop.data.spec import TabularSpec, apply_spec, target_vector
from driftloop.serving.compiled import (
    Batch,
    CompiledModel,
    PipelinePredictor,
    UnsupportedPipeline,
    compile_pipeline,
)
from driftloop.training.candidates import CANDIDATES, build

Labelled = tuple[pd.DataFrame, np.ndarray]
TOLERANCE = 1e-6
CHUNK = 200  # small batches take the per-row fast path of every model


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One OpenMP thread, as in a server worker (many threads crawl on a busy machine)."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def real(telco_frame: pd.DataFrame, telco_spec: TabularSpec) -> Labelled:
    typed = apply_spec(telco_frame, telco_spec)
    return typed[telco_spec.features], target_vector(typed, telco_spec)


@pytest.fixture(scope="module", params=sorted(CANDIDATES))
def fitted(request: pytest.FixtureRequest, real: Labelled, telco_spec: TabularSpec) -> Pipeline:
    features, target = real
    return build(request.param, telco_spec, seed=0).fit(features, target)


@pytest.fixture(scope="module")
def odd_rows(telco_spec: TabularSpec) -> pd.DataFrame:
    """Generated rows with missing and unseen categories and missing numbers."""
    raw = generate(400, seed=11)
    raw["TotalCharges"] = pd.to_numeric(raw["TotalCharges"], errors="coerce")
    frame = apply_spec(raw, telco_spec)[telco_spec.features]
    rng = np.random.default_rng(7)
    for name in telco_spec.categorical_features:
        frame.loc[rng.random(len(frame)) < 0.08, name] = None
        frame.loc[rng.random(len(frame)) < 0.05, name] = f"never seen {name}"
    frame.loc[rng.random(len(frame)) < 0.2, "Contract"] = "Weekly"
    for name in telco_spec.numeric_features:
        frame.loc[rng.random(len(frame)) < 0.1, name] = np.nan
    return frame


def complete_rows(real: Labelled, count: int) -> Labelled:
    """The first ``count`` rows without missing values, with their targets."""
    features, target = real
    rows = features.dropna().head(count)
    return rows, target[features.index.get_indexer(rows.index)]


def in_chunks(model: CompiledModel, frame: pd.DataFrame, spec: TabularSpec) -> np.ndarray:
    return np.concatenate(
        [
            model.predict_proba(Batch.from_frame(frame.iloc[start : start + CHUNK], spec))
            for start in range(0, len(frame), CHUNK)
        ]
    )


def dense(matrix: Any) -> np.ndarray:
    return matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)


def test_every_real_row_matches(fitted: Pipeline, real: Labelled, telco_spec: TabularSpec) -> None:
    features, _ = real
    model = compile_pipeline(fitted, telco_spec)
    expected = fitted.predict_proba(features)[:, 1]
    batch = Batch.from_frame(features, telco_spec)
    np.testing.assert_array_equal(model.encode(batch), dense(fitted[0].transform(features)))
    assert np.max(np.abs(in_chunks(model, features, telco_spec) - expected)) <= TOLERANCE
    assert np.max(np.abs(model.predict_proba(batch) - expected)) <= TOLERANCE


def test_missing_unseen_and_nan_values_match(
    fitted: Pipeline, odd_rows: pd.DataFrame, telco_spec: TabularSpec
) -> None:
    model = compile_pipeline(fitted, telco_spec)
    assert odd_rows["Contract"].eq("Weekly").any() and odd_rows["Contract"].isna().any()
    batch = Batch.from_frame(odd_rows, telco_spec)
    np.testing.assert_array_equal(model.encode(batch), dense(fitted[0].transform(odd_rows)))
    expected = fitted.predict_proba(odd_rows)[:, 1]
    assert np.max(np.abs(in_chunks(model, odd_rows, telco_spec) - expected)) <= TOLERANCE


def test_single_rows_match_the_batch(
    fitted: Pipeline, odd_rows: pd.DataFrame, telco_spec: TabularSpec
) -> None:
    model = compile_pipeline(fitted, telco_spec)
    whole = model.predict_proba(Batch.from_frame(odd_rows, telco_spec))
    for row in (0, 1, 17, 63, len(odd_rows) - 1):
        one = model.predict_proba(Batch.from_frame(odd_rows.iloc[[row]], telco_spec))
        assert one.shape == (1,)
        assert abs(one[0] - whole[row]) <= 1e-12
    assert model.predict_proba(Batch.from_frame(odd_rows.iloc[:0], telco_spec)).shape == (0,)


@pytest.mark.parametrize("size", [1, 3, 8, 9, 200])
def test_every_batch_size_gives_the_classifier_s_answers(
    fitted: Pipeline, odd_rows: pd.DataFrame, telco_spec: TabularSpec, size: int
) -> None:
    """One row (binned in Python), a few (every node decided at once) and more (walked a level
    at a time): each path, on rows with infinities, signed zeros and huge numbers too."""
    rows = odd_rows.copy()
    extremes = [-0.0, 1e300, -1e300, np.nan, 5e-324]
    if isinstance(fitted[-1], HistGradientBoostingClassifier):  # the others refuse infinity
        extremes += [np.inf, -np.inf]
    for n, value in enumerate(extremes):
        column = ["tenure", "MonthlyCharges", "TotalCharges"][n % 3]
        rows.loc[rows.index[n::37], column] = value
    model = compile_pipeline(fitted, telco_spec)
    expected = fitted.predict_proba(rows)[:, 1]
    found = np.concatenate(
        [
            model.predict_proba(Batch.from_frame(rows.iloc[start : start + size], telco_spec))
            for start in range(0, len(rows), size)
        ]
    )
    assert np.max(np.abs(found - expected)) <= TOLERANCE


def test_unseen_counts_skip_none(fitted: Pipeline, real: Labelled, telco_spec: TabularSpec) -> None:
    rows = real[0].head(4).copy()
    rows["Contract"] = ["Weekly", None, "Month-to-month", "Weekly"]
    rows["PaymentMethod"] = [None, None, "Bitcoin", "Mailed check"]
    batch = Batch.from_frame(rows, telco_spec)
    expected = dict.fromkeys(telco_spec.categorical_features, 0) | {
        "Contract": 2,
        "PaymentMethod": 1,
    }
    assert compile_pipeline(fitted, telco_spec).unseen_counts(batch) == expected
    assert PipelinePredictor(fitted, telco_spec).unseen_counts(batch) == expected


def test_the_fitted_column_order_is_read(real: Labelled, telco_spec: TabularSpec) -> None:
    encoder = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), telco_spec.categorical_features[::-1]),
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["TotalCharges", "tenure"]),
        ]
    )
    pipeline = Pipeline([("encode", encoder), ("model", LogisticRegression(max_iter=1000))])
    rows, target = complete_rows(real, 500)
    model = compile_pipeline(pipeline.fit(rows, target), telco_spec)
    expected = pipeline.predict_proba(rows)[:, 1]
    assert (
        np.max(np.abs(model.predict_proba(Batch.from_frame(rows, telco_spec)) - expected))
        <= TOLERANCE
    )


def test_boosting_without_categorical_features(real: Labelled, telco_spec: TabularSpec) -> None:
    pipeline = build("hist_gradient_boosting", telco_spec, seed=0)
    pipeline.set_params(model__categorical_features=None, model__max_iter=40)
    features, target = real
    model = compile_pipeline(pipeline.fit(features, target), telco_spec)
    expected = pipeline.predict_proba(features)[:, 1]
    assert np.max(np.abs(in_chunks(model, features, telco_spec) - expected)) <= TOLERANCE


def unknown_shapes(spec: TabularSpec) -> dict[str, Pipeline]:
    numeric, categorical = spec.numeric_features, spec.categorical_features
    one_hot = OneHotEncoder(handle_unknown="ignore")

    def encode(cat: object) -> ColumnTransformer:
        return ColumnTransformer([("num", StandardScaler(), numeric), ("cat", cat, categorical)])

    return {
        "no_imputer": Pipeline([("encode", encode(one_hot)), ("model", LogisticRegression())]),
        "svc": Pipeline(
            [("encode", encode(one_hot)), ("model", CalibratedClassifierCV(SVC(), ensemble=False))]
        ),
        "target_encoder": Pipeline(
            [("encode", encode(TargetEncoder())), ("model", LogisticRegression())]
        ),
        "one_hot_drop": Pipeline(
            [
                ("encode", encode(OneHotEncoder(drop="first", handle_unknown="ignore"))),
                ("model", LogisticRegression()),
            ]
        ),
        "three_steps": Pipeline(
            [
                ("encode", encode(one_hot)),
                ("scale", StandardScaler(with_mean=False)),
                ("model", LogisticRegression()),
            ]
        ),
    }


@pytest.mark.parametrize(
    "shape", ["no_imputer", "svc", "target_encoder", "one_hot_drop", "three_steps"]
)
def test_unknown_shapes_are_refused_and_served_plainly(
    shape: str, real: Labelled, telco_spec: TabularSpec
) -> None:
    rows, target = complete_rows(real, 400)
    pipeline = unknown_shapes(telco_spec)[shape].fit(rows, target)
    with pytest.raises(UnsupportedPipeline):
        compile_pipeline(pipeline, telco_spec)
    predictor = PipelinePredictor(pipeline, telco_spec)
    batch = Batch.from_frame(rows.head(50), telco_spec)
    expected = pipeline.predict_proba(rows.head(50))[:, 1]
    np.testing.assert_array_equal(predictor.predict_proba(batch), expected)


def test_batch_round_trips_through_a_frame(odd_rows: pd.DataFrame, telco_spec: TabularSpec) -> None:
    batch = Batch.from_frame(odd_rows, telco_spec)
    assert batch.rows == len(odd_rows)
    assert batch.numeric.shape == (len(odd_rows), len(telco_spec.numeric_features))
    assert batch.numeric.dtype == np.float64
    assert np.isnan(batch.numeric).any()
    assert len(batch.categorical) == len(telco_spec.categorical_features)
    assert any(value is None for column in batch.categorical for value in column)
    back = batch.to_frame(telco_spec)
    pd.testing.assert_frame_equal(back, odd_rows.reset_index(drop=True), check_dtype=True)
    assert all(v is None or isinstance(v, str) for v in back["Contract"])
