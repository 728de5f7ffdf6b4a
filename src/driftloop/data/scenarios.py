"""Drift scenarios for the synthetic Telco generator, each scaled by a ``strength`` >= 0.

Strength 0 leaves the data exactly as scenario ``"none"``; strength 1 is a clear, realistic drift
that a KS or chi-square test on 1,000 rows detects; larger values drift further.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

from driftloop.errors import DataError

SCENARIOS: dict[str, str] = {
    "none": "No drift: the calibrated baseline population.",
    "price_rise": "MonthlyCharges up 15% per unit of strength; TotalCharges follows.",
    "product_mix": "More Fiber optic and more Month-to-month customers; churn rules unchanged.",
    "concept_shift": "Same customers, new churn rules: long-tenure and contract customers leave.",
    "price_shock": "Prices up 15% per unit of strength, and customers now leave over their bill: "
    "churn rises with MonthlyCharges (the features and the churn rules drift together).",
}

# Price increase per unit of strength (a 15% rise at strength 1).
_PRICE_RISE_PER_STRENGTH = 0.15
# Share of customers NOT moved to Fiber optic / Month-to-month per unit of strength
# (strength 1 moves 25% of customers: fiber ~44% -> ~58%, month-to-month ~55% -> ~66%).
_PRODUCT_MIX_KEEP = 0.75

# Churn log-odds added per $30 of MonthlyCharges above $70, per unit of ``price_shock`` strength:
# at strength 1 a $100 bill adds 2.0 (churn ~26% -> ~40%); a model of the old rules still ranks
# customers (ROC AUC ~0.83) but one trained on the new data does better (~0.9).
_PRICE_SENSITIVITY_PER_STRENGTH = 2.0
PRICE_PIVOT, PRICE_SCALE = 70.0, 30.0

# The churn relationship at strength 1 of ``concept_shift``: a competitor's loyalty offer
# pulls long-standing customers away, while fiber and electronic-check customers stop standing
# out. Only the coefficients that change are listed; the intercept is re-solved so that the
# expected churn rate stays that of the baseline.
CONCEPT_SHIFT_CHURN: dict[str, float] = {
    "one_year": 0.0,
    "two_year": 0.0,
    "log_tenure": 0.05,
    "fiber": 0.0,
    "electronic_check": 0.0,
}


@dataclass(frozen=True)
class Drift:
    """How one generated population departs from the baseline."""

    price_factor: float = 1.0  # multiplies MonthlyCharges (and so TotalCharges)
    fiber_share: float = 0.0  # share of customers moved to Fiber optic
    month_to_month_share: float = 0.0  # share of customers moved to Month-to-month
    concept_weight: float = 0.0  # 0 = baseline churn rules, 1 = CONCEPT_SHIFT_CHURN
    price_sensitivity: float = 0.0  # churn log-odds per PRICE_SCALE above PRICE_PIVOT


def drift_for(scenario: str, strength: float) -> Drift:
    """The :class:`Drift` for a scenario name and strength; raises ``DataError`` on bad input."""
    if scenario not in SCENARIOS:
        raise DataError(
            f"unknown scenario '{scenario}' (valid: {', '.join(SCENARIOS)})",
            details={"scenario": scenario, "valid": list(SCENARIOS)},
        )
    if not isinstance(strength, Real) or not math.isfinite(strength) or strength < 0:
        raise DataError(
            f"strength must be a finite number >= 0, got {strength!r}",
            details={"strength": repr(strength)},
        )
    strength = float(strength)
    if scenario == "price_rise":
        return Drift(price_factor=1.0 + _PRICE_RISE_PER_STRENGTH * strength)
    if scenario == "product_mix":
        moved = 1.0 - _PRODUCT_MIX_KEEP**strength
        return Drift(fiber_share=moved, month_to_month_share=moved)
    if scenario == "concept_shift":
        return Drift(concept_weight=strength)
    if scenario == "price_shock":
        return Drift(
            price_factor=1.0 + _PRICE_RISE_PER_STRENGTH * strength,
            price_sensitivity=_PRICE_SENSITIVITY_PER_STRENGTH * strength,
        )
    return Drift()
