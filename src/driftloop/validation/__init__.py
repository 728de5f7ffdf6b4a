"""Data validation in SageMaker Model Monitor's file formats, without Spark.

``compute_statistics`` → ``statistics.json``, ``suggest_constraints`` → ``constraints.json``,
``verify`` → ``constraint_violations.json``; ``write_baseline`` writes the first two.
"""

from driftloop.validation._columns import ParsedColumn
from driftloop.validation.baseline import Baseline, load_statistics, write_baseline
from driftloop.validation.constraints import (
    DEFAULT_MONITORING_CONFIG,
    check_constraints,
    load_constraints,
    monitoring_config,
    suggest_constraints,
)
from driftloop.validation.schema import constraints_schema
from driftloop.validation.statistics import column_statistics, compute_statistics
from driftloop.validation.verify import CheckContext, FeatureCheck, verify, violation

__all__ = [
    "DEFAULT_MONITORING_CONFIG",
    "Baseline",
    "CheckContext",
    "FeatureCheck",
    "ParsedColumn",
    "check_constraints",
    "column_statistics",
    "compute_statistics",
    "constraints_schema",
    "load_constraints",
    "load_statistics",
    "monitoring_config",
    "suggest_constraints",
    "verify",
    "violation",
    "write_baseline",
]
