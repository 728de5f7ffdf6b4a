"""Fast prediction for fitted candidate pipelines, without scikit-learn's ColumnTransformer.

:func:`compile_pipeline` reads the fitted encoders once into plain lookups and arrays, so a
request is encoded straight into a numpy matrix in the ColumnTransformer's output column order
and handed to the fitted classifier. A pipeline of another shape, or one whose compiled answers
differ from its own on probe rows, raises :class:`UnsupportedPipeline`;
:class:`PipelinePredictor` serves it through scikit-learn instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from lightgbm import LGBMClassifier
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from driftloop.data.batch import Batch
from driftloop.data.spec import TabularSpec
from driftloop.serving._encoders import Block, UnsupportedPipeline, blocks, known_categories
from driftloop.serving._trees import TreeWalker

__all__ = ["Batch", "CompiledModel", "PipelinePredictor", "UnsupportedPipeline", "compile_pipeline"]

Head = Callable[[np.ndarray], np.ndarray]
_PROBE_NUMBERS = (np.nan, 0.0, 1.0, -1.0, 2.5, 12.0, 29.85, 70.0, 105.5, 1889.5, 8684.8, 1e6)
_PROBE_TOLERANCE = 1e-9


class _CountsUnseen:
    """Counts categories unseen in training; shared by the compiled model and the pipeline."""

    def __init__(self, known: dict[str, frozenset[str]], spec: TabularSpec) -> None:
        positions = {name: i for i, name in enumerate(spec.categorical_features)}
        self.known = {name: seen for name, seen in known.items() if name in positions}
        # Per feature: its position in the request and the values that are not unseen.
        self._allowed = tuple(
            (name, positions[name], seen | {None}) for name, seen in self.known.items()
        )
        self._none_unseen = dict.fromkeys(self.known, 0)

    def unseen_counts(self, batch: Batch) -> dict[str, int]:
        """Per categorical feature the model encodes: values not seen in training (None is not)."""
        counts = self._none_unseen.copy()
        for name, pos, allowed in self._allowed:
            column = batch.categorical[pos]
            if not allowed.issuperset(column):  # one C call settles the usual case
                counts[name] = sum(1 for v in column if v not in allowed)
        return counts


class CompiledModel(_CountsUnseen):
    """A fitted pipeline as encoding lookups plus its fitted classifier."""

    def __init__(
        self,
        encoders: Sequence[tuple[slice, Block]],
        head: Head,
        known: dict[str, frozenset[str]],
        spec: TabularSpec,
    ) -> None:
        super().__init__(known, spec)
        self._encoders = tuple(encoders)
        self._width = sum(block.width for _, block in self._encoders)
        self._head = head

    def encode(self, batch: Batch) -> np.ndarray:
        """The matrix the ColumnTransformer would produce for these rows, always dense."""
        out = np.empty((batch.rows, self._width), dtype=np.float64)
        for columns, block in self._encoders:
            block.write(batch.numeric, batch.categorical, out[:, columns])
        return out

    def predict_proba(self, batch: Batch) -> np.ndarray:
        """Positive-class probability per row, shape ``(rows,)``."""
        if batch.rows == 0:
            return np.empty(0)
        return self._head(self.encode(batch))


class PipelinePredictor(_CountsUnseen):
    """The plain pipeline behind the same interface: slower, but any pipeline shape works."""

    def __init__(self, pipeline: Any, spec: TabularSpec) -> None:
        super().__init__(known_categories(pipeline), spec)
        self.pipeline = pipeline
        self.spec = spec

    def predict_proba(self, batch: Batch) -> np.ndarray:
        """Positive-class probability per row, shape ``(rows,)``."""
        return np.asarray(self.pipeline.predict_proba(batch.to_frame(self.spec))[:, 1])


def compile_pipeline(pipeline: Any, spec: TabularSpec) -> CompiledModel:
    """Compile ``Pipeline([ColumnTransformer, classifier])``, else raise UnsupportedPipeline."""
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise UnsupportedPipeline("expected a pipeline of a ColumnTransformer and a classifier")
    encoder, estimator = (step for _, step in pipeline.steps)
    if not isinstance(encoder, ColumnTransformer):
        raise UnsupportedPipeline(f"first step is {type(encoder).__name__}, not ColumnTransformer")
    head = _head(estimator)
    encoders = blocks(encoder, spec)
    width = sum(block.width for _, block in encoders)
    if width != estimator.n_features_in_:
        wanted = estimator.n_features_in_
        raise UnsupportedPipeline(f"{width} encoded columns but the classifier takes {wanted}")
    model = CompiledModel(encoders, head, known_categories(pipeline), spec)
    _check(model, PipelinePredictor(pipeline, spec), _probe(spec, model.known))
    return model


def _head(estimator: Any) -> Head:
    if len(getattr(estimator, "classes_", ())) != 2:
        raise UnsupportedPipeline("the final step must be a fitted binary classifier")
    if hasattr(estimator, "feature_names_in_"):
        raise UnsupportedPipeline("the classifier was fitted on named columns")
    kind = type(estimator)
    if kind is LogisticRegression:
        coef = np.ascontiguousarray(estimator.coef_[0], dtype=np.float64)
        intercept = float(estimator.intercept_[0])
        return lambda x: expit(x @ coef + intercept)
    if kind is HistGradientBoostingClassifier:
        try:
            return TreeWalker(estimator)
        except (AttributeError, KeyError, TypeError) as exc:  # it reads fitted internals
            raise UnsupportedPipeline(f"gradient boosting internals not understood: {exc}") from exc
    if kind is LGBMClassifier:
        # The scikit-learn wrapper re-validates its input, ~0.3 ms a call; the booster does not.
        booster = estimator.booster_
        return lambda x: booster.predict(x, num_threads=1)
    raise UnsupportedPipeline(f"classifier {kind.__name__} is not supported")


def _probe(spec: TabularSpec, known: dict[str, frozenset[str]]) -> Batch:
    """Rows cycling through every known category, None and an unseen value, and numbers with NaN."""
    choices = [[*sorted(known.get(n, ())), None, "\x00unseen"] for n in spec.categorical_features]
    count = 2 * max([len(_PROBE_NUMBERS), *(len(c) for c in choices)])
    rows = np.arange(count)
    shifts = 5 * np.arange(len(spec.numeric_features))
    numeric = np.array(_PROBE_NUMBERS)[(rows[:, None] + shifts) % len(_PROBE_NUMBERS)]
    categorical = [[c[(row + j) % len(c)] for row in rows] for j, c in enumerate(choices)]
    return Batch(numeric=numeric, categorical=categorical)


def _check(model: CompiledModel, reference: PipelinePredictor, probe: Batch) -> None:
    try:
        expected = reference.predict_proba(probe)
    except ValueError as exc:  # e.g. a pipeline that cannot take NaN: let it keep refusing
        raise UnsupportedPipeline(f"the pipeline itself fails on probe rows: {exc}") from exc
    gap = float(np.max(np.abs(model.predict_proba(probe) - expected)))
    if not gap <= _PROBE_TOLERANCE:
        raise UnsupportedPipeline(f"the compiled model differs from the pipeline by {gap:.2g}")
