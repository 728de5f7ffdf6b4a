"""The offline half of the loop benchmark: per window the ROC AUC of the static model, of the
oracle and of what the endpoint served, and the figures the targets are judged on."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _loop_run import WindowRun
from sklearn.metrics import roc_auc_score

from driftloop.backends.local.registry import MlflowRegistry
from driftloop.capture.labels import read_labels
from driftloop.capture.reader import read_window
from driftloop.config import Settings
from driftloop.data.dataset import read_typed
from driftloop.data.spec import TabularSpec, target_vector
from driftloop.data.split import stratified_split
from driftloop.demo.config import ENDPOINT
from driftloop.training import candidates

MIN_GAIN = 0.005  # oracle - static below this: no room to recover, the share is n/a


@dataclass
class Scores:
    """One window's figures; ``recovered`` is None where the oracle gains under MIN_GAIN."""

    static: float
    oracle: float
    loop: float
    served_rows: int
    labelled_rows: int
    recovered: float | None


@dataclass
class Summary:
    pooled: float | None  # over drifted windows: sum(loop - static) / sum(oracle - static)
    delays: dict[int, int | None]  # onset window -> windows until the first violations
    false_alarms: int
    undrifted: int
    means: dict[str, float]  # mean ROC AUC over drifted windows, per model

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.undrifted if self.undrifted else 0.0

    def verdicts(self) -> list[tuple[str, str, str, bool]]:
        """(target, value, limit, passed) for each of the issue's targets."""
        pooled = "n/a" if self.pooled is None else f"{self.pooled:.2f}"
        worst = [d for d in self.delays.values()]
        detected = all(d is not None and d <= 1 for d in worst)
        shown = ", ".join(f"w{w}: {_delay(d)}" for w, d in self.delays.items())
        return [
            ("pooled recovered share", pooled, ">= 0.7", (self.pooled or 0.0) >= 0.7),
            ("detection delay (windows)", shown, "<= 1", detected),
            (
                "false alarms on undrifted windows",
                f"{self.false_alarms}/{self.undrifted}",
                "0",
                self.false_alarms == 0,
            ),
        ]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "false_alarm_rate": self.false_alarm_rate}


def _delay(delay: int | None) -> str:
    return "never" if delay is None else str(delay)


def typed(path: Path, settings: Settings, spec: TabularSpec) -> pd.DataFrame:
    """A generated CSV read and typed exactly as training reads it."""
    frame, _ = read_typed(path, settings.data, spec=spec)
    return frame


def score_windows(
    settings: Settings, spec: TabularSpec, v1_rows: pd.DataFrame, runs: list[WindowRun]
) -> list[Scores]:
    """Static v1, the oracle retrained on every label seen before the window, and the loop."""
    model = MlflowRegistry(settings.workspace).load_model(settings.registry.model_name, 1)
    labels = read_labels(settings.workspace, ENDPOINT)
    seen, scores = [v1_rows], []
    for run in runs:
        rows = typed(run.csv, settings, spec)
        y = target_vector(rows, spec)
        static = _auc(y, model.predict_proba(rows[spec.features])[:, 1])
        oracle = _auc(y, fit_oracle(pd.concat(seen, ignore_index=True), settings, spec)(rows))
        loop, served, labelled = served_auc(settings, spec, run, labels)
        gain = oracle - static
        recovered = (loop - static) / gain if gain >= MIN_GAIN else None
        scores.append(Scores(static, oracle, loop, served, labelled, recovered))
        seen.append(rows)
    return scores


def fit_oracle(rows: pd.DataFrame, settings: Settings, spec: TabularSpec) -> Any:
    """The trainer's recipe without MLflow: each candidate fitted on a stratified split, the
    best on validation ROC AUC kept; returns its scoring function."""
    train, val = stratified_split(
        rows, spec, fraction=settings.data.validation_fraction, seed=settings.data.seed
    )
    best, best_auc = None, -1.0
    for name in settings.training.candidates:
        pipeline = candidates.build(name, spec, settings.training.seed)
        pipeline.fit(train[spec.features], target_vector(train, spec))
        auc = _auc(target_vector(val, spec), pipeline.predict_proba(val[spec.features])[:, 1])
        if auc > best_auc:
            best, best_auc = pipeline, auc
    assert best is not None
    return lambda frame: best.predict_proba(frame[spec.features])[:, 1]


def served_auc(
    settings: Settings, spec: TabularSpec, run: WindowRun, labels: dict[str, int]
) -> tuple[float, int, int]:
    """ROC AUC of the probabilities the endpoint returned (its data capture) against the
    labels posted to /labels; also the captured and the labelled row counts."""
    window = read_window(
        settings.workspace.capture, ENDPOINT, spec, since=run.since, until=run.until
    )
    pairs = zip(window.inference_ids, window.event_ids, strict=True)
    ids = [i if i is not None else e for i, e in pairs]
    truth = np.array([labels.get(key, -1) for key in ids], dtype=np.int64)
    keep = (truth >= 0) & ~np.isnan(window.probabilities)
    auc = _auc(truth[keep], window.probabilities[keep]) if keep.any() else float("nan")
    return auc, window.rows, int(keep.sum())


def _auc(y: np.ndarray, proba: np.ndarray) -> float:
    return float(roc_auc_score(y, proba)) if len(set(y.tolist())) == 2 else float("nan")


def summarize(runs: list[WindowRun], scores: list[Scores]) -> Summary:
    """Pooled recovered share, detection delay per drift onset and the false-alarm rate."""
    drifted = [(r, s) for r, s in zip(runs, scores, strict=True) if r.window.drifted]
    gain = sum(s.oracle - s.static for _, s in drifted)
    won = sum(s.loop - s.static for _, s in drifted)
    pooled = won / gain if gain > 0 else None
    undrifted = [r for r in runs if not r.window.drifted]
    means = {
        key: float(np.mean([getattr(s, key) for _, s in drifted])) if drifted else float("nan")
        for key in ("static", "oracle", "loop")
    }
    false_alarms = sum(1 for r in undrifted if r.violations)
    return Summary(pooled, detection_delays(runs), false_alarms, len(undrifted), means)


def detection_delays(runs: list[WindowRun]) -> dict[int, int | None]:
    """Per drift onset, windows from the onset to the first monitoring run with violations
    (0: the onset window's own run), before the next onset; None when none had any."""
    onsets = [n for n, r in enumerate(runs) if r.window.onset]
    delays: dict[int, int | None] = {}
    for k, start in enumerate(onsets):
        end = onsets[k + 1] if k + 1 < len(onsets) else len(runs)
        hits = [n - start for n in range(start, end) if runs[n].violations]
        delays[runs[start].window.number] = hits[0] if hits else None
    return delays
