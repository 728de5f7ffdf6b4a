"""HistGradientBoostingClassifier trees as flat numpy arrays, evaluated for many rows at once.

Reads scikit-learn's fitted internals; ``compile_pipeline`` checks the result against the
classifier itself and falls back to it when they differ or the internals change.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier

from driftloop.serving._encoders import UnsupportedPipeline

_BINS, _NAN_BIN = 257, 256  # per feature: 256 value bins (codes or threshold ranks), then NaN
_WALK_MAX_ROWS = 256  # bigger batches run faster through the classifier's own tree loop
_ALL_NODES_MAX_ROWS = 8  # smaller batches decide every node at once, then only follow links


class TreeWalker:
    """A HistGradientBoostingClassifier's trees as flat arrays, walked a level at a time.

    The classifier itself re-encodes categories through its own ColumnTransformer and loops over
    its trees in Python (~4 ms a row). Here each input is binned once (a number by how many of
    the ensemble's thresholds on its feature lie below it, a category by the classifier's own
    code, NaN apart) and every node holds a go-left flag per bin, so one level of all trees is a
    few gathers. Leaf values are summed in the classifier's order: the same float result.

    A batch of a few rows (the usual request) is walked another way: a dozen numpy calls cost
    less than the ~60 of a level-by-level walk. Every node's next node is decided at once for
    each row (three gathers over all nodes), then each level is one gather.
    """

    def __init__(self, estimator: HistGradientBoostingClassifier) -> None:
        if estimator.n_trees_per_iteration_ != 1 or estimator.loss != "log_loss":
            raise UnsupportedPipeline("only binary log-loss gradient boosting is supported")
        self._estimator = estimator
        self._order, categories = _internal_layout(estimator)
        self._codes, self._low = _code_table(categories)
        trees = [predictors[0] for predictors in estimator._predictors]
        nodes = np.concatenate([tree.nodes for tree in trees])
        sizes = [len(tree.nodes) for tree in trees]
        starts = np.cumsum([0, *sizes[:-1]]).astype(np.intp)
        self._roots = starts
        self._thresholds = {
            f: _split_points(nodes, f) for f in range(len(categories), len(self._order))
        }
        self._children, self._features = _links(nodes, np.repeat(starts, sizes))
        bitsets = [tree.raw_left_cat_bitsets for tree in trees for _ in tree.nodes]
        self._go_left = _go_left(estimator, nodes, bitsets, self._thresholds).ravel()
        self._values = nodes["value"].astype(np.float64)
        self._depth = int(nodes["depth"].max())
        self._node_bins = np.arange(len(nodes), dtype=np.intp) * _BINS
        self._node_pairs = np.arange(len(nodes), dtype=np.intp) * 2
        # the same tables as Python lists, for binning one row without numpy calls
        self._code_rows = self._codes.tolist()
        self._threshold_lists = [t.tolist() for t in self._thresholds.values()]
        self._baseline = float(np.ravel(estimator._baseline_prediction)[0])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(x) > _WALK_MAX_ROWS:
            proba: np.ndarray = self._estimator.predict_proba(x)[:, 1]
            return proba
        rows, trees = len(x), len(self._roots)
        node = self._leaves_few(x) if rows <= _ALL_NODES_MAX_ROWS else self._leaves_many(x)
        raw = np.empty((rows, trees + 1))
        raw[:, 0] = self._baseline
        raw[:, 1:] = self._values[node]
        return expit(np.cumsum(raw, axis=1)[:, -1])

    def _leaves_many(self, x: np.ndarray) -> np.ndarray:
        """Each row's leaf in each tree, walking all trees a level at a time."""
        bins = self._bins(x).ravel()
        node = np.broadcast_to(self._roots, (len(x), len(self._roots)))
        row_start = (np.arange(len(x)) * len(self._order))[:, None]
        for _ in range(self._depth):
            left = self._go_left[node * _BINS + bins[row_start + self._features[node]]]
            node = self._children[2 * node + left]
        return node

    def _leaves_few(self, x: np.ndarray) -> np.ndarray:
        """Each row's leaf in each tree: every node's next node first, then the links."""
        nodes = len(self._node_bins)
        bins = self._bins_of_row(x[0]) if len(x) == 1 else self._bins(x)
        feature_bins = bins[:, self._features]  # per row, each node's feature's bin
        left = self._go_left[self._node_bins + feature_bins]
        offsets = np.arange(len(x), dtype=np.intp)[:, None] * nodes
        following = (self._children[self._node_pairs + left] + offsets).ravel()
        node = self._roots + offsets
        for _ in range(self._depth):
            node = following[node]
        leaves: np.ndarray = node - offsets
        return leaves

    def _bins_of_row(self, row: np.ndarray) -> np.ndarray:
        """:meth:`_bins` of one row, in plain Python (a few numpy calls cost more)."""
        values = row[self._order].tolist()
        n_cat = len(self._code_rows)
        span = len(self._code_rows[0]) - 1 if n_cat else 0
        bins = []
        for codes, value in zip(self._code_rows, values[:n_cat], strict=True):
            shifted = value - self._low
            known = 0 <= shifted < span and shifted == math.floor(shifted)
            bins.append(codes[int(shifted)] if known else codes[span])
        for thresholds, value in zip(self._threshold_lists, values[n_cat:], strict=True):
            bins.append(_NAN_BIN if value != value else bisect.bisect_left(thresholds, value))
        return np.array([bins], dtype=np.intp)

    def _bins(self, x: np.ndarray) -> np.ndarray:
        x = x[:, self._order]
        bins = np.empty(x.shape, dtype=np.intp)
        n_cat, span = self._codes.shape[0], self._codes.shape[1] - 1
        if n_cat:
            shifted = x[:, :n_cat] - self._low
            known = (shifted >= 0) & (shifted < span) & (shifted == np.floor(shifted))
            index = np.where(known, shifted, span).astype(np.intp)
            bins[:, :n_cat] = self._codes[np.arange(n_cat), index]
        for feature, thresholds in self._thresholds.items():
            column = x[:, feature]
            bins[:, feature] = np.where(
                np.isnan(column), _NAN_BIN, np.searchsorted(thresholds, column)
            )
        return bins


def _internal_layout(
    estimator: HistGradientBoostingClassifier,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Input column per internal feature (categorical first) and each one's known codes."""
    internal = estimator._preprocessor
    if internal is None:
        return np.arange(estimator.n_features_in_), []
    (cat_name, encoder, cat_mask), (num_name, _, num_mask) = internal.transformers_[:2]
    if (cat_name, num_name) != ("encoder", "numerical"):
        raise UnsupportedPipeline("unexpected layout inside HistGradientBoostingClassifier")
    order = np.concatenate([np.flatnonzero(cat_mask), np.flatnonzero(num_mask)])
    codes = [np.asarray(c, dtype=np.float64) for c in encoder.categories_]
    return order, [c[~np.isnan(c)] for c in codes]


def _code_table(categories: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Row per categorical feature: input code (minus the lowest) -> internal code, else NaN bin."""
    present = [c for c in categories if len(c)]
    low = int(min([0.0, *(c.min() for c in present)]))
    high = int(max([0.0, *(c.max() for c in present)]))
    table = np.full((len(categories), high - low + 2), _NAN_BIN, dtype=np.intp)
    for row, codes in enumerate(categories):
        if np.any(codes != np.floor(codes)) or len(codes) > _NAN_BIN:
            raise UnsupportedPipeline("category codes must be whole numbers, at most 256 of them")
        table[row, (codes - low).astype(np.intp)] = np.arange(len(codes))
    return table, low


def _split_points(nodes: np.ndarray, feature: int) -> np.ndarray:
    numeric_split = (nodes["is_leaf"] == 0) & (nodes["is_categorical"] == 0)
    points = np.unique(nodes["num_threshold"][numeric_split & (nodes["feature_idx"] == feature)])
    if len(points) >= _NAN_BIN:
        raise UnsupportedPipeline("more split points on one feature than bins")
    return points


def _links(nodes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Children as ``[right, left]`` pairs in global numbering (leaves loop to themselves)."""
    leaf = nodes["is_leaf"].astype(bool)
    own = np.arange(len(nodes))
    left = np.where(leaf, own, offsets + nodes["left"])
    right = np.where(leaf, own, offsets + nodes["right"])
    children = np.stack([right, left], axis=1).ravel().astype(np.intp)
    return children, np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp)


def _go_left(
    estimator: HistGradientBoostingClassifier,
    nodes: np.ndarray,
    bitsets: list[np.ndarray],
    thresholds: dict[int, np.ndarray],
) -> np.ndarray:
    """Per node and bin, 1 when the classifier sends that value to the left child."""
    table = np.zeros((len(nodes), _BINS), dtype=np.uint8)
    table[:, _NAN_BIN] = nodes["missing_go_to_left"]
    known, slots = estimator._bin_mapper.make_known_categories_bitsets()
    for index in np.flatnonzero(nodes["is_leaf"] == 0):
        node = nodes[index]
        feature = int(node["feature_idx"])
        if node["is_categorical"]:
            goes = _bits(bitsets[index][node["bitset_idx"]])
            seen = _bits(known[slots[feature]])
            table[index, :_NAN_BIN] = np.where(
                goes, 1, np.where(seen, 0, node["missing_go_to_left"])
            )
        else:
            last = np.searchsorted(thresholds[feature], node["num_threshold"])
            table[index, : last + 1] = 1
    return table


def _bits(words: np.ndarray) -> np.ndarray:
    """A 256-bit bitset of eight 32-bit words as 256 booleans."""
    bits: np.ndarray = (((words[:, None] >> np.arange(32, dtype=np.uint32)) & 1) == 1).ravel()
    return bits
