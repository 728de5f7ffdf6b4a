"""Stratified, seeded train/validation split."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from driftloop.data.spec import TabularSpec, target_vector
from driftloop.errors import DataError


def stratified_split(
    frame: pd.DataFrame, spec: TabularSpec, *, fraction: float, seed: int, source: str = "data"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into (train, validation), keeping the target's class balance in both.

    Raises :class:`~driftloop.errors.DataError` when the target is missing, has one class, or a
    class has too few rows to appear on both sides.
    """
    y = target_vector(frame, spec, source=source)
    smallest = int(min(y.sum(), len(y) - y.sum()))
    if smallest < 2:
        raise DataError(
            f"{source}: target column '{spec.target}' needs at least 2 rows of each class to "
            f"split, the smaller class has {smallest}",
            details={"column": spec.target},
        )
    train, val = train_test_split(frame, test_size=fraction, random_state=seed, stratify=y)
    return train.reset_index(drop=True), val.reset_index(drop=True)
