"""Permutation importance on raw columns, the same measure for every model type."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline


def raw_column_importance(
    model: Pipeline,
    features: pd.DataFrame,
    y_true: np.ndarray,
    *,
    seed: int,
    repeats: int = 2,
    max_rows: int = 1000,
) -> dict[str, float]:
    """Mean drop in ROC AUC when each raw column is shuffled (at most ``max_rows`` rows)."""
    result = permutation_importance(
        model,
        features,
        y_true,
        scoring="roc_auc",
        n_repeats=repeats,
        random_state=seed,
        n_jobs=1,
        max_samples=min(1.0, max_rows / len(features)),
    )
    return {
        str(name): float(value)
        for name, value in zip(features.columns, result.importances_mean, strict=True)
    }
