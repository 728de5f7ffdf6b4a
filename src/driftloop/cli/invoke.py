"""``driftloop invoke``: SageMaker's InvokeEndpoint through boto3's ``sagemaker-runtime``
client, against a local endpoint server (``driftloop serve``) or a SageMaker endpoint
(:mod:`driftloop.serving.runtime`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from driftloop.cli._context import err_console, settings
from driftloop.errors import NotFoundError
from driftloop.serving.runtime import invoke_endpoint


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
    answer, data = invoke_endpoint(cfg, url, request)
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


def register(app: typer.Typer) -> None:
    app.command("invoke")(invoke_cmd)
