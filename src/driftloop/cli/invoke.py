"""``driftloop invoke``: SageMaker's InvokeEndpoint through boto3's ``sagemaker-runtime``
client, against a local endpoint server (``driftloop serve``) or a SageMaker endpoint.

The client is built here, not by the aws backend: a local server needs no credentials (requests
go unsigned) and a local invocation is sent once, because each try is captured and counted.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import typer

from driftloop.cli._context import err_console, settings
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


def invoke_cmd(
    ctx: typer.Context,
    endpoint: str = typer.Argument(..., help="Endpoint name."),
    body: str = typer.Option(
        ..., "--body", "-b", help="Request body: inline text, @FILE, fileb://FILE, or - (stdin)."
    ),
    content_type: str = typer.Option(
        "application/json", "--content-type", "-t", help="Body type (application/json, text/csv)."
    ),
    accept: str | None = typer.Option(None, "--accept", help="Answer type wanted."),
    target_variant: str | None = typer.Option(
        None, "--target-variant", help="Variant that answers (default: by weight)."
    ),
    inference_id: str | None = typer.Option(
        None, "--inference-id", help="Id kept with the captured record; labels refer to it."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the answer to this file instead of printing it."
    ),
    url: str | None = typer.Option(
        None,
        "--url",
        help="Runtime URL. Local default: serving.host and serving.port; "
        'aws: aws.endpoint_urls["sagemaker-runtime"], else AWS\'s own.',
    ),
) -> None:
    """Invoke an endpoint as SageMaker's runtime API does (InvokeEndpoint)."""
    cfg = settings(ctx)
    request = {"EndpointName": endpoint, "Body": _read_body(body), "ContentType": content_type}
    optional = {"Accept": accept, "TargetVariant": target_variant, "InferenceId": inference_id}
    request.update({key: value for key, value in optional.items() if value is not None})
    answer, data = _invoke(cfg, url, request)
    variant = answer.get("InvokedProductionVariant")
    version = answer["ResponseMetadata"].get("HTTPHeaders", {}).get("x-driftloop-model-version")
    if variant:
        model = f" (model version {version})" if version else ""
        err_console.print(f"answered by variant {variant}{model}", highlight=False, soft_wrap=True)
    if output is None:
        typer.echo(data, nl=not data.endswith(b"\n"))
    else:
        output.write_bytes(data)
        err_console.print(f"wrote {len(data)} bytes to {output}", highlight=False, soft_wrap=True)


def _read_body(text: str) -> bytes:
    """``-`` is stdin, ``@FILE`` (curl) or ``fileb://FILE`` (the aws CLI) a file, else text."""
    if text == "-":
        return typer.get_binary_stream("stdin").read()
    for prefix in ("@", "fileb://", "file://"):
        if text.startswith(prefix):
            path = Path(text.removeprefix(prefix))
            if not path.is_file():
                raise NotFoundError(f"body file not found: {path}", details={"file": str(path)})
            return path.read_bytes()
    return text.encode()


def _invoke(cfg: Settings, url: str | None, request: dict[str, Any]) -> tuple[Any, bytes]:
    """InvokeEndpoint's answer and its body; failures as driftloop errors."""
    try:
        import boto3  # noqa: F401  (the aws extra: fail here in one sentence)
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
    except ImportError:
        raise ConfigError('driftloop invoke needs boto3: pip install "driftloop[aws]"') from None
    local = cfg.backend.kind == "local"
    client = _client(cfg, url or (_serve_url(cfg) if local else None))
    where, endpoint = str(client.meta.endpoint_url), request["EndpointName"]
    failed = DriftloopError if local else CloudError  # a local server is not a cloud service
    try:
        answer = client.invoke_endpoint(**request)
        return answer, answer["Body"].read()
    except ClientError as error:
        raise _refused(error, endpoint, where, local) from None
    except EndpointConnectionError:
        hint = f" (is `driftloop serve {endpoint}` running?)" if local else ""
        raise failed(f"nothing answers at {where}{hint}") from None
    except BotoCoreError as error:
        raise failed(f"invoking {where} failed: {error}") from None


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


def _serve_url(cfg: Settings) -> str:
    """Where ``driftloop serve`` listens by the settings; a wildcard bind is reached on loopback."""
    host = cfg.serving.host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{cfg.serving.port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{cfg.serving.port}"


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


def register(app: typer.Typer) -> None:
    app.command("invoke")(invoke_cmd)
