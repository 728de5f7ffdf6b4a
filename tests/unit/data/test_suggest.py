"""`init --from-csv`'s inference: positive label, id columns, two-valued numeric columns."""

from __future__ import annotations

import pandas as pd
import pytest

from driftloop.data.suggest import positive_label, suggest_data
from driftloop.errors import DataError


def test_the_real_telco_file_gives_the_demo_settings(telco_frame: pd.DataFrame) -> None:
    data = suggest_data(telco_frame, "Churn")
    assert (data.positive_label, data.id_columns) == ("Yes", ["customerID"])
    assert data.column_types == {"SeniorCitizen": "categorical"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["0", "1", "0"], "1"),
        (["no", "yes", "no"], "yes"),
        (["False", "True"], "True"),
        (["stay", "stay", "stay", "leave"], "leave"),  # no conventional name: the rarer class
    ],
)
def test_positive_label(values: list[str], expected: str) -> None:
    assert positive_label(pd.Series(values), "y") == expected


def test_a_target_that_is_not_binary_or_not_there_is_named() -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c"], "y": ["x", "y", "z"]})
    with pytest.raises(DataError, match="target column 'y' must hold exactly two classes"):
        suggest_data(frame, "y")
    with pytest.raises(DataError, match="target column 'nope' is not in the data"):
        suggest_data(frame, "nope")


def test_ids_need_unique_present_values_and_an_id_name_or_text() -> None:
    frame = pd.DataFrame(
        {
            "row_id": ["1", "2", "3", "4"],  # numbers, but named like an id
            "code": ["a1", "b2", "c3", "d4"],  # unique text
            "amount": ["1.5", "2.5", "3.5", "4.5"],  # unique numbers: a feature
            "ref": ["x", None, "y", "z"],  # a gap: not an id
            "y": ["0", "1", "0", "1"],
        }
    )
    assert suggest_data(frame, "y").id_columns == ["row_id", "code"]
