"""The CreateTrainingJob request the SageMaker SDK's SKLearn estimator sends, and its source
bundle: ``sourcedir.tar.gz`` holding the entry point, named by the ``sagemaker_*``
hyperparameters. As the SDK does, every hyperparameter value is JSON-encoded; SageMaker's
training toolkit decodes them and passes each as ``--name value``.
"""

from __future__ import annotations

import io
import json
import logging
import re
import tarfile
import time
from typing import Any

from driftloop.config import AwsSettings

PROGRAM = "train_model.py"
ENTRY_POINT = '''"""driftloop's script-mode entry point (driftloop.script_mode)."""

import sys

from driftloop.script_mode import main

if __name__ == "__main__":
    sys.exit(main())
'''
"""The bundle's ``train_model.py``: the repository's entry point, which needs driftloop
installed in the training image."""
CHANNELS = ("train", "validation")
MAX_RUNTIME = 24 * 3600  # the SDK's default max_run
VOLUME_GB = 30  # the SDK's default volume_size
_METRICS = ("roc_auc", "pr_auc", "f1", "log_loss")  # lines train_model.py prints


def job_name(base: str) -> str:
    """``<base>-<yyyy-mm-dd-hh-mm-ss-mmm>`` as the SDK names jobs, within SageMaker's 63
    letters, digits and hyphens."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(now)) + f"-{int(now * 1000) % 1000:03d}"
    cleaned = re.sub(r"[^a-zA-Z0-9]+", "-", base).strip("-")[: 62 - len(stamp)] or "driftloop"
    return f"{cleaned}-{stamp}"


def source_bundle() -> bytes:
    """``sourcedir.tar.gz`` with the entry point at its top."""
    script = ENTRY_POINT.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(PROGRAM)
        info.size, info.mode, info.mtime = len(script), 0o644, int(time.time())
        tar.addfile(info, io.BytesIO(script))
    return buffer.getvalue()


def create_request(
    name: str,
    aws: AwsSettings,
    region: str,
    locations: dict[str, str],
    hyperparameters: dict[str, Any],
) -> dict[str, Any]:
    """CreateTrainingJob's arguments. ``locations`` maps each channel, ``source`` (the
    bundle's URI) and ``output`` (S3OutputPath) to its s3:// URI."""
    sagemaker = {
        "sagemaker_program": PROGRAM,
        "sagemaker_submit_directory": locations["source"],
        "sagemaker_region": region,
        "sagemaker_container_log_level": logging.INFO,
        "sagemaker_job_name": name,
    }
    encoded = {str(k): json.dumps(v) for k, v in {**hyperparameters, **sagemaker}.items()}
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": aws.training_image,
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": f"validation:{m}", "Regex": f"^{m}=([-0-9.eE]+)"} for m in _METRICS
            ],
        },
        "RoleArn": aws.role_arn,
        "InputDataConfig": [_channel(channel, locations[channel]) for channel in CHANNELS],
        "OutputDataConfig": {"S3OutputPath": locations["output"]},
        "ResourceConfig": {
            "InstanceType": aws.training_instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": VOLUME_GB,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME},
        "HyperParameters": encoded,
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": False,
        "EnableManagedSpotTraining": False,
    }


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "ContentType": "text/csv",
    }
