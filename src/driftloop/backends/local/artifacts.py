"""The local artifact store: the folders stay where they were made in the workspace."""

from __future__ import annotations

from pathlib import Path

from driftloop.data.artifacts import ArtifactStore, file_folder
from driftloop.errors import ConfigError, NotFoundError


class FolderArtifactStore(ArtifactStore):
    """Artifacts are their own folders; their URIs are ``file://`` URIs."""

    def put_folder(self, key: str, folder: Path) -> str:
        if not folder.is_dir():
            raise NotFoundError(f"artifact {key}: {folder} is not a folder")
        return folder.resolve().as_uri()

    def local_folder(self, uri: str) -> Path:
        if not uri.startswith("file://"):
            raise ConfigError(f"{uri} is not on this machine; the local backend reads file:// URIs")
        folder = file_folder(uri)
        if not folder.is_dir():
            raise NotFoundError(f"artifact {uri} does not exist")
        return folder
