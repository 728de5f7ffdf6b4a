"""The synthetic Telco data against the real file: marginals, churn rate and transferable signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from driftloop.data.generator import generate

NUMERIC = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"]
TRAIN_ROWS, TRAIN_SEED = 5_000, 2024
# Sampling alone gives a total variation distance of about 0.01-0.02 between 5,000 generated
# and 7,043 real rows; 0.05 still fails any category share that is off by 5 points.
MAX_TVD = 0.05
MAX_KS = 0.06


@pytest.fixture(scope="module")
def real(telco_csv: Path) -> pd.DataFrame:
    return pd.read_csv(telco_csv, dtype={"TotalCharges": str})


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    return generate(TRAIN_ROWS, TRAIN_SEED)


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """Model inputs; a blank TotalCharges (tenure 0, nothing billed yet) counts as 0."""
    inputs = frame.drop(columns=["customerID", "Churn"])
    total = pd.to_numeric(inputs["TotalCharges"].str.strip().replace("", np.nan))
    return inputs.assign(TotalCharges=total.fillna(0.0))


def target(frame: pd.DataFrame) -> np.ndarray:
    return (frame["Churn"] == "Yes").to_numpy(dtype=int)


def categorical(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in {*NUMERIC, "customerID"}]


@pytest.fixture(scope="module")
def model(synthetic: pd.DataFrame) -> Pipeline:
    inputs = features(synthetic)
    encode = ColumnTransformer([
        ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical(inputs)),
        ("numeric", StandardScaler(), NUMERIC),
    ])  # fmt: skip
    pipeline = make_pipeline(encode, LogisticRegression(max_iter=1_000))
    return pipeline.fit(inputs, target(synthetic))


def auc(model: Pipeline, frame: pd.DataFrame) -> float:
    return float(roc_auc_score(target(frame), model.predict_proba(features(frame))[:, 1]))


def test_a_model_trained_on_generated_rows_ranks_real_customers(
    model: Pipeline, real: pd.DataFrame
) -> None:
    assert auc(model, real) >= 0.80


def test_churn_rate_matches_the_real_one(synthetic: pd.DataFrame, real: pd.DataFrame) -> None:
    assert abs(target(synthetic).mean() - target(real).mean()) <= 0.03


def test_categorical_marginals_match(synthetic: pd.DataFrame, real: pd.DataFrame) -> None:
    for column in [*categorical(real), "SeniorCitizen"]:
        ours = synthetic[column].value_counts(normalize=True)
        theirs = real[column].value_counts(normalize=True)
        assert set(ours.index) == set(theirs.index), column
        tvd = 0.5 * ours.subtract(theirs, fill_value=0.0).abs().sum()
        assert tvd <= MAX_TVD, f"{column}: total variation distance {tvd:.3f}"


@pytest.mark.parametrize("column", ["tenure", "MonthlyCharges", "TotalCharges"])
def test_numeric_distributions_match(
    synthetic: pd.DataFrame, real: pd.DataFrame, column: str
) -> None:
    ours, theirs = features(synthetic)[column], features(real)[column]
    assert stats.ks_2samp(ours, theirs).statistic <= MAX_KS


def test_blank_total_charges_are_as_rare_as_in_the_real_file(
    synthetic: pd.DataFrame, real: pd.DataFrame
) -> None:
    assert (real["TotalCharges"] == " ").sum() == (real["tenure"] == 0).sum()
    assert (synthetic["TotalCharges"] == " ").mean() < 0.005


def test_concept_shift_costs_a_baseline_model_its_ranking(model: Pipeline) -> None:
    baseline = auc(model, generate(TRAIN_ROWS, TRAIN_SEED + 1))
    shifted = auc(model, generate(TRAIN_ROWS, TRAIN_SEED + 1, "concept_shift", 1.0))
    assert baseline >= 0.80
    assert shifted <= baseline - 0.15
