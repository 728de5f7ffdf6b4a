"""The synthetic Telco generator: schema, value sets, determinism, errors and drift scenarios."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from driftloop.data.generator import SCENARIOS, generate
from driftloop.errors import DataError

REAL_COLUMNS = [
    "customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure", "PhoneService",
    "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup", "DeviceProtection",
    "TechSupport", "StreamingTV", "StreamingMovies", "Contract", "PaperlessBilling",
    "PaymentMethod", "MonthlyCharges", "TotalCharges", "Churn",
]  # fmt: skip
YES_NO = {"Yes", "No"}
INTERNET_ADDONS = [
    "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV",
    "StreamingMovies",
]  # fmt: skip
# Value sets of the real file's categorical columns.
REAL_VALUES: dict[str, set] = {
    "gender": {"Male", "Female"},
    "SeniorCitizen": {0, 1},
    "Partner": YES_NO,
    "Dependents": YES_NO,
    "PhoneService": YES_NO,
    "MultipleLines": YES_NO | {"No phone service"},
    "InternetService": {"DSL", "Fiber optic", "No"},
    **{name: YES_NO | {"No internet service"} for name in INTERNET_ADDONS},
    "Contract": {"Month-to-month", "One year", "Two year"},
    "PaperlessBilling": YES_NO,
    "PaymentMethod": {
        "Electronic check",
        "Mailed check",
        "Bank transfer (automatic)",
        "Credit card (automatic)",
    },
    "Churn": YES_NO,
}
ROWS = 20_000  # enough for ~30 tenure-0 customers


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(ROWS, seed=11)


def totals(frame: pd.DataFrame) -> pd.Series:
    """TotalCharges as numbers, with the blank " " as missing."""
    return pd.to_numeric(frame["TotalCharges"].replace(" ", np.nan))


def test_columns_follow_the_real_file(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == REAL_COLUMNS
    assert len(frame) == ROWS


@pytest.mark.parametrize("column", sorted(REAL_VALUES))
def test_value_sets_equal_the_real_file(frame: pd.DataFrame, column: str) -> None:
    assert set(frame[column].unique()) == REAL_VALUES[column]


def test_numeric_columns_have_the_real_types_and_ranges(frame: pd.DataFrame) -> None:
    assert frame["SeniorCitizen"].dtype == np.int64
    assert frame["tenure"].dtype == np.int64
    assert frame["tenure"].between(0, 72).all()
    assert {0, 1, 72} <= set(frame["tenure"])
    charges = frame["MonthlyCharges"]
    assert charges.dtype == np.float64
    assert charges.between(17.5, 120).all()
    assert np.allclose(charges * 20, np.round(charges * 20))  # 0.05 steps, as in the real file
    assert frame["TotalCharges"].map(type).eq(str).all()


def test_customer_ids_look_real_and_are_unique(frame: pd.DataFrame) -> None:
    assert frame["customerID"].str.fullmatch(r"\d{4}-[A-Z]{5}").all()
    assert frame["customerID"].is_unique


def test_total_charges_blank_exactly_when_tenure_is_zero(frame: pd.DataFrame) -> None:
    blank = frame["TotalCharges"] == " "
    assert blank.any()
    assert (blank == (frame["tenure"] == 0)).all()
    text = frame.loc[~blank, "TotalCharges"]
    assert text.str.fullmatch(r"\d+(\.\d{1,2})?").all()
    assert not text.str.endswith(".0").any()  # written like the real file: "1889.5", "97"


def test_total_charges_track_tenure_times_monthly(frame: pd.DataFrame) -> None:
    paying = frame["tenure"] > 0
    expected = frame["tenure"] * frame["MonthlyCharges"]
    ratio = totals(frame)[paying] / expected[paying]
    assert ratio.between(0.6, 1.6).all()
    assert abs(ratio.median() - 1) < 0.01
    first_month = frame["tenure"] == 1
    assert np.allclose(totals(frame)[first_month], frame.loc[first_month, "MonthlyCharges"])


def test_services_are_structurally_consistent(frame: pd.DataFrame) -> None:
    no_phone = frame["PhoneService"] == "No"
    assert ((frame["MultipleLines"] == "No phone service") == no_phone).all()
    no_internet = frame["InternetService"] == "No"
    for name in INTERNET_ADDONS:
        assert ((frame[name] == "No internet service") == no_internet).all(), name
    # Only DSL customers go without a phone line, as in the real file.
    assert (frame.loc[no_phone, "InternetService"] == "DSL").all()


def test_monthly_charges_follow_the_services(frame: pd.DataFrame) -> None:
    by_internet = frame.groupby("InternetService")["MonthlyCharges"].median()
    assert by_internet["No"] < by_internet["DSL"] < by_internet["Fiber optic"]
    phone_only = frame["InternetService"] == "No"
    assert frame.loc[phone_only, "MonthlyCharges"].between(17.5, 30).all()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_same_arguments_give_the_same_frame(scenario: str) -> None:
    pd.testing.assert_frame_equal(generate(500, 3, scenario), generate(500, 3, scenario))


def test_different_seeds_give_different_frames() -> None:
    first, second = generate(500, 1), generate(500, 2)
    assert set(first["customerID"]).isdisjoint(second["customerID"])
    assert not np.array_equal(first["MonthlyCharges"], second["MonthlyCharges"])


def test_a_single_row_works() -> None:
    assert generate(1, 0).shape == (1, len(REAL_COLUMNS))


def test_scenarios_are_described() -> None:
    assert {"none", "price_rise", "product_mix", "concept_shift"} <= set(SCENARIOS)
    assert all(isinstance(text, str) and text for text in SCENARIOS.values())


@pytest.mark.parametrize("rows", [0, -5, 2.5, True, "10"])
def test_bad_row_counts_are_refused(rows: object) -> None:
    with pytest.raises(DataError, match="rows must be an integer >= 1"):
        generate(rows, 0)  # type: ignore[arg-type]


def test_a_negative_seed_is_refused() -> None:
    with pytest.raises(DataError, match="seed"):
        generate(10, -1)


def test_an_unknown_scenario_names_the_valid_ones() -> None:
    with pytest.raises(DataError, match="unknown scenario 'nope'") as caught:
        generate(10, 0, "nope")
    for name in SCENARIOS:
        assert name in caught.value.message


@pytest.mark.parametrize("strength", [-0.1, math.nan, math.inf])
def test_bad_strengths_are_refused(strength: float) -> None:
    with pytest.raises(DataError, match="strength"):
        generate(10, 0, "price_rise", strength)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_strength_zero_is_the_baseline(scenario: str) -> None:
    pd.testing.assert_frame_equal(generate(2_000, 5, scenario, 0.0), generate(2_000, 5))


def test_price_rise_raises_both_charges_and_nothing_else() -> None:
    base, risen = generate(5_000, 8), generate(5_000, 8, "price_rise", 1.0)
    untouched = [c for c in REAL_COLUMNS if c not in {"MonthlyCharges", "TotalCharges"}]
    pd.testing.assert_frame_equal(base[untouched], risen[untouched])
    monthly = risen["MonthlyCharges"] / base["MonthlyCharges"]
    assert monthly.mean() == pytest.approx(1.15, abs=0.005)
    paying = base["tenure"] > 0
    assert (totals(risen) / totals(base))[paying].mean() == pytest.approx(1.15, abs=0.01)
    stronger = generate(5_000, 8, "price_rise", 2.0)["MonthlyCharges"].mean()
    assert stronger > risen["MonthlyCharges"].mean()


def test_price_rise_is_detected_by_ks_on_1000_rows() -> None:
    reference = generate(1_000, 1)["MonthlyCharges"]
    current = generate(1_000, 2, "price_rise", 1.0)["MonthlyCharges"]
    assert stats.ks_2samp(reference, current).pvalue < 0.01
    assert stats.ks_2samp(reference, generate(1_000, 2)["MonthlyCharges"]).pvalue > 0.01


def shares(frame: pd.DataFrame) -> tuple[float, float]:
    """Shares of Fiber optic and Month-to-month customers."""
    fiber = (frame["InternetService"] == "Fiber optic").mean()
    return fiber, (frame["Contract"] == "Month-to-month").mean()


def test_product_mix_adds_fiber_and_month_to_month_with_strength() -> None:
    base, mild, strong = (generate(ROWS, 4, "product_mix", s) for s in (0.0, 1.0, 3.0))
    (fiber0, monthly0), (fiber1, monthly1), (fiber3, monthly3) = map(shares, (base, mild, strong))
    assert fiber1 - fiber0 > 0.08 and monthly1 - monthly0 > 0.06
    assert fiber3 > fiber1 + 0.1 and monthly3 > monthly1 + 0.1


@pytest.mark.parametrize("column", ["InternetService", "Contract"])
def test_product_mix_is_detected_by_chi_square_on_1000_rows(column: str) -> None:
    reference = generate(1_000, 1)[column]
    current = generate(1_000, 2, "product_mix", 1.0)[column]
    table = pd.crosstab(np.repeat(["reference", "current"], 1_000), pd.concat([reference, current]))
    assert stats.chi2_contingency(table).pvalue < 0.01


def churn_rate(frame: pd.DataFrame, mask: pd.Series | None = None) -> float:
    churned = frame["Churn"] == "Yes"
    return float(churned.mean() if mask is None else churned[mask].mean())


def test_concept_shift_changes_who_churns_but_not_the_features() -> None:
    base, shifted = generate(ROWS, 6), generate(ROWS, 6, "concept_shift", 1.0)
    features = [c for c in REAL_COLUMNS if c != "Churn"]
    pd.testing.assert_frame_equal(base[features], shifted[features])
    assert churn_rate(shifted) == pytest.approx(churn_rate(base), abs=0.015)
    two_year = base["Contract"] == "Two year"
    assert churn_rate(shifted, two_year) > 3 * churn_rate(base, two_year)
    long_tenure = base["tenure"] >= 60
    assert churn_rate(shifted, long_tenure) > 2 * churn_rate(base, long_tenure)
    churner_tenure = [f.loc[f["Churn"] == "Yes", "tenure"].mean() for f in (base, shifted)]
    assert churner_tenure[1] > churner_tenure[0] + 10


def test_price_shock_raises_prices_and_makes_churn_follow_the_bill() -> None:
    risen, shocked = generate(ROWS, 9, "price_rise", 1.0), generate(ROWS, 9, "price_shock", 1.0)
    features = [c for c in REAL_COLUMNS if c != "Churn"]
    pd.testing.assert_frame_equal(risen[features], shocked[features])
    assert churn_rate(shocked) > churn_rate(risen) + 0.08
    high_bill = shocked["MonthlyCharges"] > 100
    low_bill = shocked["MonthlyCharges"] < 40
    assert churn_rate(shocked, high_bill) > churn_rate(risen, high_bill) + 0.2
    assert churn_rate(shocked, low_bill) < churn_rate(risen, low_bill) + 0.02
