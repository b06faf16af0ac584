"""Disk use of artifact folders, free of torch so that the web process can show it too."""

from pathlib import Path


def folder_size(path: str | Path) -> int:
    """Bytes of the files under `path` (0 if it is gone)."""
    path = Path(path)
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0
