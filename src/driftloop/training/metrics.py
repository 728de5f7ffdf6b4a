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


def choose_threshold(
    y_true: np.ndarray, proba: np.ndarray, policy: float | str, cost_ratio: float = 1.0
) -> float:
    """The decision threshold: ``policy`` itself when it is a number; ``"f1"``: the one with
    the best F1 on these rows; ``"cost"``: the one with the least
    ``cost_ratio * false negatives + false positives``. Ties take the highest threshold."""
    if not isinstance(policy, str):
        return float(policy)
    truth = np.asarray(y_true, dtype=bool)
    order = np.argsort(-proba, kind="stable")
    scores, hits = proba[order], truth[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # each distinct score
    tp = np.cumsum(hits)[last]
    fp = (last + 1) - tp
    fn = truth.sum() - tp
    if policy == "f1":
        gain = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    elif policy == "cost":
        gain = -(cost_ratio * fn + fp)
    else:
        raise ValueError(f"unknown threshold policy {policy!r}")
    return float(scores[last][int(np.argmax(gain))])


def better(metric: str, candidate: float, reference: float, margin: float = 0.0) -> bool:
    """Whether ``candidate`` beats ``reference`` on ``metric`` by at least ``margin``."""
    if metric in LOWER_IS_BETTER:
        return candidate <= reference - margin
    return candidate >= reference + margin
