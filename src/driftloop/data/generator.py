"""Synthetic customers in the schema of the IBM Telco Customer Churn data, with optional drift.

Rows are drawn along a small causal chain (demographics -> contract -> tenure -> services ->
billing -> charges -> churn). Every parameter was calibrated once on the public Telco file
(7,043 rows) and is hard-coded here: generating never reads that file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit as _sigmoid
from scipy.special import softmax

from driftloop.data.scenarios import (
    CONCEPT_SHIFT_CHURN,
    PRICE_PIVOT,
    PRICE_SCALE,
    SCENARIOS,
    Drift,
    drift_for,
)
from driftloop.errors import DataError

__all__ = ["COLUMNS", "SCENARIOS", "generate"]

COLUMNS = (
    "customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure", "PhoneService",
    "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup", "DeviceProtection",
    "TechSupport", "StreamingTV", "StreamingMovies", "Contract", "PaperlessBilling",
    "PaymentMethod", "MonthlyCharges", "TotalCharges", "Churn",
)  # fmt: skip
CONTRACTS = ("Month-to-month", "One year", "Two year")
INTERNET = ("DSL", "Fiber optic", "No")
PAYMENTS = (
    "Bank transfer (automatic)", "Credit card (automatic)", "Electronic check", "Mailed check",
)  # fmt: skip
ADDONS = (
    "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV",
    "StreamingMovies",
)  # fmt: skip
_MTM, _ONE, _TWO = 0, 1, 2
_DSL, _FIBER, _NO_INTERNET = 0, 1, 2

# Demographics.
_P_MALE = 0.505
_P_SENIOR = 0.162
_P_PARTNER = np.array([0.479, 0.502])  # by SeniorCitizen
_P_DEPENDENTS = np.array([[0.115, 0.589], [0.014, 0.145]])  # by SeniorCitizen, Partner

# Contract mix (columns follow CONTRACTS) by SeniorCitizen, Partner, Dependents; the sixth row
# (8 real customers) is smoothed.
_CONTRACT = np.array([
    [0.675, 0.181, 0.144], [0.567, 0.238, 0.195], [0.425, 0.245, 0.330], [0.324, 0.253, 0.423],
    [0.809, 0.116, 0.075], [0.800, 0.120, 0.080], [0.620, 0.202, 0.178], [0.506, 0.301, 0.193],
])  # fmt: skip

# Tenure: share of each contract's customers per band, uniform inside a band. The peaks at
# 1 month (new month-to-month customers) and 72 months (the data's cap) get their own bands.
_TENURE_BANDS = np.array([
    (0, 0), (1, 1), (2, 3), (4, 6), (7, 12), (13, 24), (25, 36), (37, 48), (49, 60), (61, 66),
    (67, 70), (71, 71), (72, 72),
])  # fmt: skip
_TENURE_SHARE = np.array([
    [0.0, 0.1559, 0.1086, 0.1001, 0.1499, 0.1902, 0.1254, 0.0815, 0.0604, 0.0188, 0.0072,
     0.0013, 0.0005],
    [0.0007, 0.0048, 0.0088, 0.0122, 0.0577, 0.1337, 0.1697, 0.1819, 0.2179, 0.1079, 0.074,
     0.019, 0.0115],
    [0.0059, 0.0012, 0.0024, 0.0077, 0.023, 0.0531, 0.0566, 0.105, 0.1634, 0.1363, 0.1622,
     0.0808, 0.2024],
])  # fmt: skip

# Internet service, multinomial logistic against DSL (rows: fiber, no internet) on
# 1, senior, one year, two year, tenure / 72, one year * tenure / 72, two year * tenure / 72.
# Long-tenure customers moved to fiber; short-tenure yearly contracts are mostly phone-only.
_INTERNET_LOGIT = np.array([
    [0.05, 0.94, -2.03, -2.73, 1.22, 1.52, 1.28],
    [-0.33, -0.95, 1.07, 1.96, -2.65, 0.31, 0.57],
])  # fmt: skip
_P_PHONE_WITH_DSL = 0.718  # fiber and no-internet customers always have a phone line

# Optional services, logistic: intercept, fiber, tenure / 72, one year, two year.
_MULTIPLE_LINES = np.array([-1.60, 1.04, 2.82, -0.48, -0.24])
_MULTIPLE_LINES_NO_INTERNET = -0.83
_ADDON_LOGIT = {
    "OnlineSecurity": [-1.23, -0.94, 1.66, 0.62, 1.13],
    "OnlineBackup": [-1.49, -0.04, 2.55, 0.13, 0.22],
    "DeviceProtection": [-1.57, 0.21, 1.76, 0.69, 1.25],
    "TechSupport": [-1.20, -0.78, 0.96, 0.96, 1.99],
    "StreamingTV": [-1.47, 0.93, 1.39, 0.51, 0.89],
    "StreamingMovies": [-1.83, 0.65, 1.11, 0.38, 0.65],
}
_MOVIES_WITH_TV = 1.51  # movie streamers mostly also stream TV

# Paperless billing, logistic: intercept, fiber, no internet, one year, two year, senior.
_PAPERLESS = np.array([0.31, 0.92, -1.00, -0.26, -0.37, 0.43])
# Payment method (columns follow PAYMENTS) by Contract, PaperlessBilling.
_PAYMENT = np.array([
    [0.160, 0.125, 0.351, 0.364], [0.148, 0.148, 0.540, 0.164],
    [0.254, 0.259, 0.169, 0.318], [0.275, 0.280, 0.291, 0.154],
    [0.303, 0.335, 0.062, 0.300], [0.367, 0.352, 0.143, 0.139],
])  # fmt: skip

# Monthly price list (a linear fit explains the real charges to within ~1 dollar).
_PRICE_BASE = -0.10
_PRICE_PHONE, _PRICE_EXTRA_LINES = 20.05, 5.0
_PRICE_INTERNET = np.array([25.05, 50.0, 0.0])  # follows INTERNET
_PRICE_ADDON = {name: 10.0 if name.startswith("Streaming") else 5.0 for name in ADDONS}
_PRICE_NOISE_SD, _PRICE_NOISE_SD_NO_INTERNET = 1.1, 0.55  # clipped at 3.5 sd
# TotalCharges / (tenure * MonthlyCharges) is 1 plus noise of sd 0.21 * sqrt(tenure - 1) / tenure.
_TOTAL_NOISE = 0.21

# Churn, logistic on the real data (in-sample ROC AUC 0.85).
_CHURN_INTERCEPT = 0.41
_CHURN = {
    "one_year": -0.70, "two_year": -1.67, "log_tenure": -0.70, "fiber": 0.78,
    "no_internet": -0.99, "electronic_check": 0.34, "tech_support": -0.30,
    "online_security": -0.33, "online_backup": -0.11, "streaming_tv": 0.32,
    "streaming_movies": 0.34, "multiple_lines": 0.30, "paperless": 0.36, "senior": 0.25,
    "dependents": -0.12,
}  # fmt: skip


def generate(rows: int, seed: int, scenario: str = "none", strength: float = 1.0) -> pd.DataFrame:
    """``rows`` synthetic Telco customers; the same arguments always give the same frame."""
    _check_integer("rows", rows, minimum=1)
    _check_integer("seed", seed, minimum=0)
    drift = drift_for(scenario, strength)
    rng = np.random.default_rng(seed)
    n = int(rows)
    c: dict[str, np.ndarray] = {}
    _demographics(rng, n, c)
    _contract_and_tenure(rng, c, drift)
    _services(rng, c, drift)
    _billing(rng, c)
    _charges(rng, c, drift)
    c["Churn"] = rng.random(n) < _churn_probability(c, drift)
    c["customerID"] = _customer_ids(rng, n)
    return _to_frame(c)


def _check_integer(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DataError(
            f"{name} must be an integer >= {minimum}, got {value!r}", details={name: repr(value)}
        )


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category index per row of ``probs`` (rows are probability vectors)."""
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cumulative[:, -1]
    picked: np.ndarray = (u[:, None] >= cumulative[:, :-1]).sum(axis=1)
    return picked


def _toward(probs: np.ndarray, category: int, share: float) -> np.ndarray:
    """Move ``share`` of every row's probability mass to ``category``."""
    moved = probs * (1.0 - share)
    moved[:, category] += share
    return moved


def _demographics(rng: np.random.Generator, n: int, c: dict[str, np.ndarray]) -> None:
    c["male"] = rng.random(n) < _P_MALE
    c["SeniorCitizen"] = (rng.random(n) < _P_SENIOR).astype(np.int64)
    c["Partner"] = rng.random(n) < _P_PARTNER[c["SeniorCitizen"]]
    c["Dependents"] = rng.random(n) < _P_DEPENDENTS[c["SeniorCitizen"], c["Partner"].astype(int)]


def _contract_and_tenure(rng: np.random.Generator, c: dict[str, np.ndarray], drift: Drift) -> None:
    group = 4 * c["SeniorCitizen"] + 2 * c["Partner"] + c["Dependents"]
    c["contract"] = _pick(rng, _toward(_CONTRACT[group], _MTM, drift.month_to_month_share))
    low, high = _TENURE_BANDS[_pick(rng, _TENURE_SHARE[c["contract"]])].T
    c["tenure"] = low + (rng.random(len(low)) * (high - low + 1)).astype(np.int64)


def _service_design(c: dict[str, np.ndarray]) -> np.ndarray:
    """Columns: 1, fiber, tenure / 72, one year, two year (shared by the service models)."""
    return np.column_stack([
        np.ones(len(c["tenure"])), c["internet"] == _FIBER, c["tenure"] / 72,
        c["contract"] == _ONE, c["contract"] == _TWO,
    ])  # fmt: skip


def _internet_probabilities(c: dict[str, np.ndarray]) -> np.ndarray:
    """Per-row probabilities of DSL, Fiber optic and no internet."""
    one, two, t = c["contract"] == _ONE, c["contract"] == _TWO, c["tenure"] / 72
    design = np.column_stack([np.ones(len(t)), c["SeniorCitizen"], one, two, t, one * t, two * t])
    logits = np.column_stack([np.zeros(len(t)), design @ _INTERNET_LOGIT.T])
    return softmax(logits, axis=1)


def _services(rng: np.random.Generator, c: dict[str, np.ndarray], drift: Drift) -> None:
    n = len(c["tenure"])
    c["internet"] = _pick(rng, _toward(_internet_probabilities(c), _FIBER, drift.fiber_share))
    has_internet = c["internet"] != _NO_INTERNET
    c["PhoneService"] = (c["internet"] != _DSL) | (rng.random(n) < _P_PHONE_WITH_DSL)
    design = _service_design(c)
    lines = design @ _MULTIPLE_LINES + _MULTIPLE_LINES_NO_INTERNET * ~has_internet
    c["MultipleLines"] = c["PhoneService"] & (rng.random(n) < _sigmoid(lines))
    for name, coefs in _ADDON_LOGIT.items():
        logit = design @ np.asarray(coefs)
        if name == "StreamingMovies":
            logit += _MOVIES_WITH_TV * c["StreamingTV"]
        c[name] = has_internet & (rng.random(n) < _sigmoid(logit))


def _billing(rng: np.random.Generator, c: dict[str, np.ndarray]) -> None:
    n = len(c["tenure"])
    design = np.column_stack([
        np.ones(n), c["internet"] == _FIBER, c["internet"] == _NO_INTERNET,
        c["contract"] == _ONE, c["contract"] == _TWO, c["SeniorCitizen"],
    ])  # fmt: skip
    c["PaperlessBilling"] = rng.random(n) < _sigmoid(design @ _PAPERLESS)
    c["payment"] = _pick(rng, _PAYMENT[2 * c["contract"] + c["PaperlessBilling"]])


def _charges(rng: np.random.Generator, c: dict[str, np.ndarray], drift: Drift) -> None:
    n = len(c["tenure"])
    price = (
        _PRICE_BASE
        + _PRICE_PHONE * c["PhoneService"]
        + _PRICE_EXTRA_LINES * c["MultipleLines"]
        + _PRICE_INTERNET[c["internet"]]
        + sum(_PRICE_ADDON[name] * c[name] for name in ADDONS)
    )
    noise_sd = np.where(c["internet"] == _NO_INTERNET, _PRICE_NOISE_SD_NO_INTERNET, _PRICE_NOISE_SD)
    noise = np.clip(rng.standard_normal(n), -3.5, 3.5) * noise_sd
    monthly = np.round((price + noise) * drift.price_factor * 20) / 20  # real prices step by 0.05
    tenure = c["tenure"]
    spread = _TOTAL_NOISE * np.sqrt(np.maximum(tenure - 1, 0)) / np.maximum(tenure, 1)
    ratio = np.clip(1.0 + spread * rng.standard_normal(n), 0.6, 1.6)
    c["MonthlyCharges"] = np.round(monthly, 2)
    c["total_cents"] = np.round(monthly * tenure * ratio * 100).astype(np.int64)


def _churn_features(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "one_year": c["contract"] == _ONE,
        "two_year": c["contract"] == _TWO,
        "log_tenure": np.log1p(c["tenure"]),
        "fiber": c["internet"] == _FIBER,
        "no_internet": c["internet"] == _NO_INTERNET,
        "electronic_check": c["payment"] == PAYMENTS.index("Electronic check"),
        "tech_support": c["TechSupport"],
        "online_security": c["OnlineSecurity"],
        "online_backup": c["OnlineBackup"],
        "streaming_tv": c["StreamingTV"],
        "streaming_movies": c["StreamingMovies"],
        "multiple_lines": c["MultipleLines"],
        "paperless": c["PaperlessBilling"],
        "senior": c["SeniorCitizen"],
        "dependents": c["Dependents"],
    }


def _churn_probability(c: dict[str, np.ndarray], drift: Drift) -> np.ndarray:
    """Baseline churn model; under concept drift, new coefficients with the same churn rate."""
    features = _churn_features(c)
    # np.asarray only types the builtin sum of arrays (an array, never its start value 0).
    base = _CHURN_INTERCEPT + np.asarray(
        sum(coef * features[name] for name, coef in _CHURN.items())
    )
    if drift.price_sensitivity:  # customers react to their bill: more churn, not re-balanced
        base = base + drift.price_sensitivity * (c["MonthlyCharges"] - PRICE_PIVOT) / PRICE_SCALE
    if drift.concept_weight == 0:
        return _sigmoid(base)
    shifted = base + drift.concept_weight * np.asarray(
        sum((coef - _CHURN[name]) * features[name] for name, coef in CONCEPT_SHIFT_CHURN.items())
    )
    return _sigmoid(shifted + _matching_offset(shifted, _sigmoid(base).mean()))


def _matching_offset(logit: np.ndarray, target_rate: float) -> float:
    """The constant that, added to ``logit``, makes the mean probability ``target_rate``."""
    offset = 0.0
    for _ in range(100):  # damped Newton steps: the mean is smooth and increasing in the offset
        p = _sigmoid(logit + offset)
        gap = p.mean() - target_rate
        if abs(gap) < 1e-9:
            break
        offset -= np.clip(gap / max((p * (1 - p)).mean(), 1e-12), -1.0, 1.0)
    return float(offset)


def _customer_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique ids like ``7590-VHVEG``: four digits, a dash and five capital letters."""
    letters = 26**5
    codes = rng.choice(10_000 * letters, size=n, replace=False)
    chars = np.empty((n, 10), dtype=np.uint8)
    digits, rest = np.divmod(codes, letters)
    for i in range(4):
        chars[:, 3 - i] = ord("0") + digits % 10
        digits //= 10
    chars[:, 4] = ord("-")
    for i in range(5):
        chars[:, 9 - i] = ord("A") + rest % 26
        rest //= 26
    return chars.view("S10").ravel().astype(str).astype(object)


def _format_totals(cents: np.ndarray, tenure: np.ndarray) -> np.ndarray:
    """Totals as the real file writes them ("1889.5", "97", "108.15"), or " " for tenure 0."""
    text = np.array([repr(v).removesuffix(".0") for v in (cents / 100).tolist()], dtype=object)
    text[tenure == 0] = " "
    return text


def _labels(values: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    return np.asarray(labels, dtype=object)[np.asarray(values, dtype=np.intp)]


def _yes_no(values: np.ndarray, present: np.ndarray | None = None, absent: str = "") -> np.ndarray:
    """Yes/No labels, or ``absent`` (e.g. "No phone service") where ``present`` is False."""
    codes = np.asarray(values, dtype=np.intp)
    if present is not None:
        codes = np.where(present, codes, 2)
    return _labels(codes, ("No", "Yes", absent))


def _to_frame(c: dict[str, np.ndarray]) -> pd.DataFrame:
    has_internet = c["internet"] != _NO_INTERNET
    columns = {
        "customerID": c["customerID"],
        "gender": _labels(c["male"], ("Female", "Male")),
        "SeniorCitizen": c["SeniorCitizen"],
        "Partner": _yes_no(c["Partner"]),
        "Dependents": _yes_no(c["Dependents"]),
        "tenure": c["tenure"],
        "PhoneService": _yes_no(c["PhoneService"]),
        "MultipleLines": _yes_no(c["MultipleLines"], c["PhoneService"], "No phone service"),
        "InternetService": _labels(c["internet"], INTERNET),
        **{name: _yes_no(c[name], has_internet, "No internet service") for name in ADDONS},
        "Contract": _labels(c["contract"], CONTRACTS),
        "PaperlessBilling": _yes_no(c["PaperlessBilling"]),
        "PaymentMethod": _labels(c["payment"], PAYMENTS),
        "MonthlyCharges": c["MonthlyCharges"],
        "TotalCharges": _format_totals(c["total_cents"], c["tenure"]),
        "Churn": _yes_no(c["Churn"]),
    }
    return pd.DataFrame({name: columns[name] for name in COLUMNS}, copy=False)
