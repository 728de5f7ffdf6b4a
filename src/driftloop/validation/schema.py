"""The value constraints of a ``constraints.json`` as a pandera schema.

Domains become ``Check.isin`` and ``is_non_negative`` becomes ``Check.ge(0)``; each check's
``title`` is the Model Monitor check type it stands for. Data types and completeness are not in
the schema: pandera checks a column's dtype, whereas a text column needs each value parsed, so
:mod:`driftloop.validation.verify` does those two in numpy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandera.pandas as pa

CATEGORICAL_VALUES_CHECK = "categorical_values_check"
NON_NEGATIVE_CHECK = "non_negative_check"
NUMERIC_TYPES = frozenset({"Integral", "Fractional"})


def feature_checks(feature: Mapping[str, Any]) -> list[pa.Check]:
    """The value checks of one ``features`` entry (possibly none)."""
    checks = []
    domains = feature.get("string_constraints", {}).get("domains")
    if feature["inferred_type"] == "String" and domains is not None:
        checks.append(pa.Check.isin(domains, title=CATEGORICAL_VALUES_CHECK))
    non_negative = feature.get("num_constraints", {}).get("is_non_negative", False)
    if feature["inferred_type"] in NUMERIC_TYPES and non_negative:
        checks.append(pa.Check.ge(0, title=NON_NEGATIVE_CHECK))
    return checks


def constraints_schema(constraints: Mapping[str, Any]) -> pa.DataFrameSchema:
    """A schema for a typed frame (numbers as floats, categories as text, missing allowed).

    Columns absent from the frame are not failures here; ``verify`` reports them instead.
    """
    columns = {
        feature["name"]: pa.Column(checks=checks, nullable=True, required=False)
        for feature in constraints["features"]
        if (checks := feature_checks(feature))
    }
    return pa.DataFrameSchema(columns, strict=False)
