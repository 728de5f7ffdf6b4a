"""Evaluation plots as PNG files: ROC, precision-recall, confusion, calibration, importance."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve


def write_plots(
    folder: Path,
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    threshold: float,
    importance: dict[str, float],
    title: str,
) -> list[Path]:
    """Draw every plot into ``folder`` and return the file paths."""
    folder.mkdir(parents=True, exist_ok=True)
    drawings = {
        "roc_curve.png": _roc(y_true, proba),
        "precision_recall_curve.png": _precision_recall(y_true, proba),
        "confusion_matrix.png": _confusion(y_true, proba, threshold),
        "calibration_curve.png": _calibration(y_true, proba),
        "feature_importance.png": _importance(importance),
    }
    paths = []
    for name, figure in drawings.items():
        figure.suptitle(title, fontsize=9)
        path = folder / name
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        paths.append(path)
    return paths


def _figure() -> tuple[Figure, Axes]:
    figure, axes = plt.subplots(figsize=(5, 4))
    return figure, axes


def _roc(y_true: np.ndarray, proba: np.ndarray) -> Figure:
    figure, axes = _figure()
    fpr, tpr, _ = skm.roc_curve(y_true, proba)
    axes.plot(fpr, tpr, label=f"AUC = {skm.roc_auc_score(y_true, proba):.3f}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
    axes.legend(loc="lower right")
    return figure


def _precision_recall(y_true: np.ndarray, proba: np.ndarray) -> Figure:
    figure, axes = _figure()
    precision, recall, _ = skm.precision_recall_curve(y_true, proba)
    ap = skm.average_precision_score(y_true, proba)
    axes.plot(recall, precision, label=f"AP = {ap:.3f}")
    axes.axhline(float(np.mean(y_true)), linestyle="--", color="grey", label="base rate")
    axes.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve")
    axes.legend(loc="upper right")
    return figure


def _confusion(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> Figure:
    figure, axes = _figure()
    matrix = skm.confusion_matrix(y_true, (proba >= threshold).astype(int), labels=[0, 1])
    axes.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        axes.text(col, row, str(count), ha="center", va="center", color=colour)
    axes.set_xticks([0, 1], ["negative", "positive"])
    axes.set_yticks([0, 1], ["negative", "positive"])
    axes.set(xlabel="Predicted", ylabel="Actual", title=f"Confusion matrix (t = {threshold:g})")
    return figure


def _calibration(y_true: np.ndarray, proba: np.ndarray) -> Figure:
    figure, axes = _figure()
    observed, predicted = calibration_curve(y_true, proba, n_bins=10, strategy="quantile")
    axes.plot(predicted, observed, marker="o", label="model")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    axes.set(xlabel="Mean predicted probability", ylabel="Observed rate", title="Calibration")
    axes.legend(loc="upper left")
    return figure


def _importance(importance: dict[str, float]) -> Figure:
    ranked = sorted(importance.items(), key=lambda item: item[1])[-20:]
    figure, axes = plt.subplots(figsize=(5, max(3.0, 0.25 * len(ranked) + 1)))
    axes.barh([name for name, _ in ranked], [value for _, value in ranked])
    axes.set(xlabel="Drop in ROC AUC when shuffled", title="Permutation importance")
    return figure
