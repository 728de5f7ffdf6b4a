"""Folders of result files (baselines, monitoring runs) kept where the backend keeps things.

A folder is made in the workspace, then handed to :meth:`ArtifactStore.put_folder` under a key
such as ``baselines/<digest>``; the URI it returns is what the registry and run summaries
record. Locally the folder already is the artifact (``file://``); on aws its files are copied
under ``s3://<bucket>/<prefix>/<key>/``. :meth:`ArtifactStore.local_folder` turns a recorded
URI back into a folder on this machine, downloading it once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path


class ArtifactStore(ABC):
    """Result folders by key; URIs in, local folders out."""

    @abstractmethod
    def put_folder(self, key: str, folder: Path) -> str:
        """Keep every file under ``folder`` (recursively) as the artifact ``key``; returns its
        URI. Putting the same key again replaces the files of the same names."""

    @abstractmethod
    def local_folder(self, uri: str) -> Path:
        """A folder on this machine holding the artifact at ``uri`` (a URI that
        :meth:`put_folder` returned). :class:`NotFoundError` when nothing is there,
        :class:`ConfigError` for a URI this backend cannot read."""


def file_folder(uri: str) -> Path:
    """The folder of a ``file://`` URI."""
    return Path(uri.removeprefix("file://"))
