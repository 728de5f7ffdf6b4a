"""Every candidate is a raw-column pipeline that skops can store with exactly our trusted types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io

from driftloop.data.generator import generate
from driftloop.data.spec import apply_spec, infer_spec, target_vector
from driftloop.training.candidates import CANDIDATES, TRUSTED_TYPES, build


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, object]:
    raw = generate(1500, seed=3).astype(str).replace(" ", None)
    spec = infer_spec(
        raw,
        target="Churn",
        positive_label="Yes",
        id_columns=["customerID"],
        kinds={"SeniorCitizen": "categorical"},
    )
    typed = apply_spec(raw, spec)
    return typed[spec.features], target_vector(typed, spec), spec


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_trusted_types_are_exact_and_round_trip(name: str, data) -> None:  # type: ignore[no-untyped-def]
    features, y, spec = data
    model = build(name, spec, seed=0).fit(features, y)
    blob = skops.io.dumps(model)
    assert sorted(skops.io.get_untrusted_types(data=blob)) == sorted(TRUSTED_TYPES[name])
    loaded = skops.io.loads(blob, trusted=TRUSTED_TYPES[name])
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_unseen_and_missing_categories_are_answered(name: str, data) -> None:  # type: ignore[no-untyped-def]
    features, y, spec = data
    model = build(name, spec, seed=0).fit(features, y)
    odd = features.head(2).copy()
    odd.loc[odd.index[0], "Contract"] = "Weekly"
    odd.loc[odd.index[1], "PaymentMethod"] = None
    proba = model.predict_proba(odd)[:, 1]
    assert np.all((proba > 0) & (proba < 1))


def test_chosen_thresholds_agree_with_scikit_learn_brute_force() -> None:
    from sklearn.metrics import confusion_matrix, f1_score

    from driftloop.training.metrics import choose_threshold

    rng = np.random.default_rng(3)
    truth = rng.random(1500) < 0.06
    proba = np.round(np.clip(rng.random(1500) * 0.4 + truth * 0.2, 0, 1), 3)  # with ties
    cuts = np.unique(proba)

    def cost(cut: float) -> float:
        _, fp, fn, _ = confusion_matrix(truth, proba >= cut).ravel()
        return 8.0 * fn + fp

    best_f1 = max(cuts, key=lambda c: (f1_score(truth, proba >= c), c))
    best_cost = min(cuts, key=lambda c: (cost(c), -c))
    assert choose_threshold(truth, proba, "f1") == best_f1
    assert choose_threshold(truth, proba, "cost", 8.0) == best_cost
    assert choose_threshold(truth, proba, 0.42) == 0.42
    assert f1_score(truth, proba >= best_f1) > f1_score(truth, proba >= 0.5)
