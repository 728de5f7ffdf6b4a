"""Keys under the configured bucket and prefix, and the few S3 calls every store needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from driftloop.backends.aws._clients import call, client, translated
from driftloop.config import Settings


class Bucket:
    """``s3://<aws.bucket>/<aws.prefix>/...``: keys are given relative to the prefix."""

    def __init__(self, settings: Settings) -> None:
        assert settings.aws.bucket is not None  # checked when the settings load
        self.name = settings.aws.bucket
        self.prefix = settings.aws.prefix.strip("/")
        self.s3 = client(settings, "s3")

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def uri(self, relative: str) -> str:
        return f"s3://{self.name}/{self.key(relative)}"

    def _call(self, operation: Callable[..., Any], relative: str, **kwargs: Any) -> Any:
        """``operation`` on the object at ``relative``, errors naming its s3:// URI."""
        return call(
            "s3", operation, self.uri(relative), Bucket=self.name, Key=self.key(relative), **kwargs
        )

    def put(self, relative: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        self._call(self.s3.put_object, relative, Body=body, Metadata=metadata or {})

    def get(self, relative: str) -> bytes:
        return bytes(self._call(self.s3.get_object, relative)["Body"].read())

    def head(self, relative: str) -> dict[str, Any]:
        return dict(self._call(self.s3.head_object, relative))

    def keys(self, relative_prefix: str) -> Iterator[str]:
        """Keys under ``relative_prefix`` (relative to the prefix), in S3's (UTF-8) order."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=self.key(relative_prefix)
        )
        start = len(self.key(""))
        with translated("s3", "ListObjectsV2", self.uri(relative_prefix)):
            listed = list(pages)
        for page in listed:
            for item in page.get("Contents", []):
                yield str(item["Key"])[start:]

    def delete(self, relative: str) -> None:
        self._call(self.s3.delete_object, relative)
