"""Unpacking a GitLab repository archive safely."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath


def unpack(data: bytes, destination: Path) -> None:
    """Extract a GitLab archive, dropping its top folder; the 'data' filter refuses links out,
    absolute paths and device files."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = []
        for member in archive.getmembers():
            parts = PurePosixPath(member.name).parts
            if len(parts) < 2:
                continue
            member.name = str(PurePosixPath(*parts[1:]))
            members.append(member)
        archive.extractall(destination, members=members, filter="data")
