"""SageMaker's runtime API (InvokeEndpoint) through boto3's ``sagemaker-runtime`` client, against
a local endpoint server (``driftloop serve``) or a SageMaker endpoint.

The client is built here, not by the aws backend: a local server needs no credentials (requests
go unsigned) and a local invocation is sent once, because each try is captured and counted.
``driftloop invoke`` and the release's smoke request both call :func:`invoke_endpoint`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from driftloop.config import Settings
from driftloop.errors import (
    CloudError,
    ConfigError,
    DataError,
    DriftloopError,
    ModelError,
    NotFoundError,
    Unauthorized,
)

SERVICE = "sagemaker-runtime"
NO_ENDPOINT = re.compile(r"Could not find endpoint|Endpoint .* not found")


def invoke_endpoint(
    cfg: Settings, url: str | None, request: dict[str, Any]
) -> tuple[dict[str, Any], bytes]:
    """InvokeEndpoint's answer and its body; failures as driftloop errors.

    ``request`` holds InvokeEndpoint's fields. ``url`` is the runtime's URL; unset, it is where
    ``driftloop serve`` listens (local backend) or ``aws.endpoint_urls["sagemaker-runtime"]``,
    else AWS's own (aws backend)."""
    try:
        import boto3  # noqa: F401  (the aws extra: fail here in one sentence)
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
    except ImportError:
        raise ConfigError('invoking needs boto3: pip install "driftloop[aws]"') from None
    local = cfg.backend.kind == "local"
    client = _client(cfg, url or (serve_url(cfg) if local else None))
    where, endpoint = str(client.meta.endpoint_url), request["EndpointName"]
    failed = DriftloopError if local else CloudError  # a local server is not a cloud service
    try:
        answer: dict[str, Any] = client.invoke_endpoint(**request)
        return answer, answer["Body"].read()
    except ClientError as error:
        raise _refused(error, endpoint, where, local) from None
    except EndpointConnectionError:
        hint = f" (is `driftloop serve {endpoint}` running?)" if local else ""
        raise failed(f"nothing answers at {where}{hint}") from None
    except BotoCoreError as error:
        raise failed(f"invoking {where} failed: {error}") from None


def serve_url(cfg: Settings) -> str:
    """Where ``driftloop serve`` listens by the settings (https when it has a certificate); a
    wildcard bind is reached on loopback."""
    host = cfg.serving.host
    scheme = "https" if cfg.serving.tls_certfile else "http"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"{scheme}://{host}:{cfg.serving.port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"{scheme}://{shown}:{cfg.serving.port}"


def _client(cfg: Settings, url: str | None) -> Any:
    """A ``sagemaker-runtime`` client: unsigned and one try locally, else the aws settings'
    region, attempts and credentials from the usual chain."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    local = cfg.backend.kind == "local"
    session = boto3.session.Session(region_name=cfg.aws.region)
    region = session.region_name or ("us-east-1" if local else None)
    if region is None:
        raise CloudError("no AWS region: set aws.region or AWS_REGION")
    config = Config(
        retries={"total_max_attempts": 1 if local else cfg.aws.max_attempts, "mode": "standard"},
        connect_timeout=10,
        read_timeout=70,  # past the endpoint's 60 s limit, so its own answer arrives first
        signature_version=UNSIGNED if local else None,
    )
    endpoint_url = url or cfg.aws.endpoint_urls.get(SERVICE)
    client = session.client(SERVICE, region_name=region, endpoint_url=endpoint_url, config=config)
    key = cfg.serving.api_key
    if local and key is not None:
        bearer = f"Bearer {key.get_secret_value()}"

        def authorize(request: Any, **_: Any) -> None:
            request.headers["Authorization"] = bearer

        client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", authorize)
    return client


def _refused(error: Any, endpoint: str, where: str, local: bool) -> DriftloopError:
    """The error an InvokeEndpoint refusal means; the message is the server's own."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    message = str(error.response.get("Error", {}).get("Message") or code)
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status == 404 or NO_ENDPOINT.search(message):
        return NotFoundError(f"endpoint '{endpoint}' not found at {where}")
    if code == "ModelError":
        return ModelError(f"endpoint '{endpoint}': the model failed: {message}")
    if status == 401:
        return Unauthorized(f"{where} refused the request: {message}")
    if code == "ValidationError":
        return DataError(f"endpoint '{endpoint}' refused the request: {message}")
    if local:
        return DriftloopError(f"endpoint '{endpoint}' failed ({status}): {message}")
    return CloudError(f"{SERVICE} InvokeEndpoint failed ({code}): {message}")
