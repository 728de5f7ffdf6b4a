"""Binary classification metrics on probabilities, named as they are logged to MLflow."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

# Metrics where lower is better; every other metric is better when higher.
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})


def evaluate(y_true: np.ndarray, proba: np.ndarray, *, threshold: float) -> dict[str, float]:
    """ROC AUC, PR AUC, F1, precision, recall, accuracy, log loss and Brier score."""
    predicted = (proba >= threshold).astype(np.int64)
    return {
        "roc_auc": float(skm.roc_auc_score(y_true, proba)),
        "pr_auc": float(skm.average_precision_score(y_true, proba)),
        "f1": float(skm.f1_score(y_true, predicted, zero_division=0)),
        "precision": float(skm.precision_score(y_true, predicted, zero_division=0)),
        "recall": float(skm.recall_score(y_true, predicted, zero_division=0)),
        "accuracy": float(skm.accuracy_score(y_true, predicted)),
        "log_loss": float(skm.log_loss(y_true, proba, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y_true, proba)),
    }


def better(metric: str, candidate: float, reference: float, margin: float = 0.0) -> bool:
    """Whether ``candidate`` beats ``reference`` on ``metric`` by at least ``margin``."""
    if metric in LOWER_IS_BETTER:
        return candidate <= reference - margin
    return candidate >= reference + margin
