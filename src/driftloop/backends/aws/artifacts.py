"""The aws artifact store: result folders under ``s3://<bucket>/<prefix>/<key>/``.

Each file is one object (its path under the folder appended to the key). Reading an artifact
downloads it once into ``<workspace>/cache/s3/<bucket>/<key>/``; a ``.complete`` marker, written
last, tells a finished download from one that was cut short. ``file://`` URIs (artifacts made
before the backend moved to aws) are read where they are.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from driftloop.backends.aws._s3 import Bucket
from driftloop.config import Settings
from driftloop.data.artifacts import ArtifactStore, file_folder
from driftloop.errors import ConfigError, NotFoundError
from driftloop.workspace import atomic_write_bytes

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends

COMPLETE = ".complete"


class S3ArtifactStore(ArtifactStore):
    def __init__(self, settings: Settings, stores: Backends) -> None:
        self.bucket = Bucket(settings)
        self.cache = settings.workspace.root / "cache" / "s3" / self.bucket.name

    def put_folder(self, key: str, folder: Path) -> str:
        if not folder.is_dir():
            raise NotFoundError(f"artifact {key}: {folder} is not a folder")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.bucket.put(f"{key}/{path.relative_to(folder).as_posix()}", path.read_bytes())
        return self.bucket.uri(key)

    def local_folder(self, uri: str) -> Path:
        if uri.startswith("file://"):
            folder = file_folder(uri)
            if not folder.is_dir():
                raise NotFoundError(f"artifact {uri} does not exist")
            return folder
        key = self._key(uri)
        folder = self.cache / self.bucket.key(key)
        if (folder / COMPLETE).is_file():
            return folder
        names = list(self.bucket.keys(f"{key}/"))
        if not names:
            raise NotFoundError(f"artifact {uri} does not exist")
        shutil.rmtree(folder, ignore_errors=True)
        for name in names:
            atomic_write_bytes(folder / name[len(key) + 1 :], self.bucket.get(name))
        (folder / COMPLETE).touch()
        return folder

    def _key(self, uri: str) -> str:
        """``uri``'s key relative to the prefix; ConfigError for one outside it."""
        start = self.bucket.uri("")
        if not uri.startswith(start):
            raise ConfigError(f"{uri} is not under {start}, where this backend keeps artifacts")
        return uri[len(start) :].rstrip("/")
