"""SageMaker request shapes of a guarded update: DeploymentConfig and ServerlessConfig."""

from __future__ import annotations

import math
from typing import Any

from driftloop.errors import ConfigError
from driftloop.serving.endpoint_config import Rollout, Serverless

UPDATING = ("Creating", "Updating", "SystemUpdating", "RollingBack")
"""Endpoint states in which an update has not ended yet."""
MAX_WAIT_S = 3600
"""SageMaker's longest WaitIntervalInSeconds and TerminationWaitInSeconds."""
TIMEOUT_S = (600, 28800)
"""SageMaker's shortest and longest MaximumExecutionTimeoutInSeconds."""
FLEET_S = 1800
"""Time allowed for bringing up the new fleet, on top of the bakes."""
WAIT_MARGIN_S = 300
"""How much longer than the update's own timeout driftloop waits for it to end."""
MAX_ALARMS = 10


def deployment_config(rollout: Rollout) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig: a blue/green update shifting traffic as ``rollout``
    says, rolled back by SageMaker when one of its alarms goes to ALARM."""
    for what, seconds in (("bake", rollout.wait_s), ("final bake", rollout.final_bake_s)):
        if not 0 <= seconds <= MAX_WAIT_S:
            raise ConfigError(
                f"SageMaker bakes at most {MAX_WAIT_S} s between shifts; the {what} is {seconds} s"
            )
    if len(rollout.alarms) > MAX_ALARMS:
        raise ConfigError(
            f"SageMaker rolls back on at most {MAX_ALARMS} alarms, not {len(rollout.alarms)}"
        )
    routing: dict[str, Any] = {"Type": rollout.kind, "WaitIntervalInSeconds": rollout.wait_s}
    if rollout.kind != "ALL_AT_ONCE":
        size = "CanarySize" if rollout.kind == "CANARY" else "LinearStepSize"
        routing[size] = {"Type": "CAPACITY_PERCENT", "Value": _whole_percent(rollout.step_percent)}
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": rollout.final_bake_s,
            "MaximumExecutionTimeoutInSeconds": max_seconds(rollout),
        }
    }
    if rollout.alarms:
        alarms = [{"AlarmName": name} for name in rollout.alarms]
        config["AutoRollbackConfiguration"] = {"Alarms": alarms}
    return config


def max_seconds(rollout: Rollout) -> int:
    """The update's MaximumExecutionTimeoutInSeconds: every bake plus time for the fleet."""
    shifts = {"ALL_AT_ONCE": 1, "CANARY": 2, "LINEAR": math.ceil(100 / rollout.step_percent)}
    total = shifts[rollout.kind] * rollout.wait_s + rollout.final_bake_s + FLEET_S
    shortest, longest = TIMEOUT_S
    if total > longest:
        raise ConfigError(
            f"the update would bake for {total - FLEET_S} s; SageMaker allows an update "
            f"{longest} s at most: bake less or take bigger steps"
        )
    return max(shortest, total)


def serverless_config(serverless: Serverless) -> dict[str, int]:
    """A production variant's ServerlessConfig."""
    config = {
        "MemorySizeInMB": serverless.memory_mb,
        "MaxConcurrency": serverless.max_concurrency,
    }
    if serverless.provisioned_concurrency is not None:
        config["ProvisionedConcurrency"] = serverless.provisioned_concurrency
    return config


def _whole_percent(percent: float) -> int:
    if percent != int(percent):
        raise ConfigError(f"SageMaker shifts whole percentages of capacity, not {percent:g} %")
    return int(percent)
