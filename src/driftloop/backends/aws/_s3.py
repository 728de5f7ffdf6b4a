"""Keys under the configured bucket and prefix, and the few S3 calls every store needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from driftloop.backends.aws._clients import call, client
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

    def put(self, relative: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        call(
            "s3",
            self.s3.put_object,
            self.uri(relative),
            Bucket=self.name,
            Key=self.key(relative),
            Body=body,
            Metadata=metadata or {},
        )

    def get(self, relative: str) -> bytes:
        answer = call(
            "s3", self.s3.get_object, self.uri(relative), Bucket=self.name, Key=self.key(relative)
        )
        return bytes(answer["Body"].read())

    def head(self, relative: str) -> dict[str, Any]:
        return dict(
            call(
                "s3",
                self.s3.head_object,
                self.uri(relative),
                Bucket=self.name,
                Key=self.key(relative),
            )
        )

    def keys(self, relative_prefix: str) -> Iterator[str]:
        """Keys under ``relative_prefix`` (relative to the prefix), in S3's (UTF-8) order."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=self.key(relative_prefix)
        )
        start = len(self.key(""))
        for page in call("s3", lambda: list(pages), self.uri(relative_prefix)):
            for item in page.get("Contents", []):
                yield str(item["Key"])[start:]

    def delete(self, relative: str) -> None:
        call(
            "s3",
            self.s3.delete_object,
            self.uri(relative),
            Bucket=self.name,
            Key=self.key(relative),
        )
