"""Files the package writes and checks: atomic writes, SHA-256 of files and bytes, URL or path.

The one home of each of these (standard library only, so any module may import it):

- :func:`write_atomic` (bytes or text) and :func:`atomic_path` (for writers that stream to a path:
  Parquet, CSV, pickle): the data goes to a temporary file in the target's folder, which then
  replaces the target with ``os.replace``. A reader (delivery, a browser, the next run) sees either
  the old file or the new one, never a half-written one; a crash or an error leaves at most a
  ``.tmp-<name>.*`` file behind, never a truncated target. Written files get mode 0644.
- :func:`sha256_file` and :func:`sha256_bytes`: the hex SHA-256 recorded in ``manifest.json`` and
  checked by delivery and re-runs.
- :func:`is_url`: is a data source or destination a database URL (``dialect://...``) or a path?
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_CHUNK = 1 << 20
#: Mode of every atomically written file (mkstemp alone would leave 0600).
FILE_MODE = 0o644


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path`` to write to; it replaces ``path`` when the block ends.

    ``with atomic_path(out) as tmp: frame.to_parquet(tmp)``. The folder is created if needed. If
    the block raises, the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically; returns the path."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def sha256_bytes(data: bytes | str) -> str:
    """Hex SHA-256 of ``data`` (text is UTF-8 encoded)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def is_url(source: str | Path) -> bool:
    """True if ``source`` is a database URL (``dialect://...``, e.g. ``sqlite:///x.db``) rather
    than a path. A :class:`~pathlib.Path` is always a path."""
    return isinstance(source, str) and "://" in source
