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
- :func:`safe_name`: the file-name form of an identifier (a partner id never becomes a path).
- :func:`staging` / :func:`publish`: write a set of folders in a staging folder of their parent,
  then swap them into place only when every file is complete; :func:`clear_staging` removes
  staging folders a killed process left behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_CHUNK = 1 << 20
#: An identifier used as is in a file name: ASCII letters, digits, ``_`` and ``-``, at most 64.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: Device names Windows reserves whatever the extension (``CON``, ``CON.txt``, ``con``).
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})
#: Length of the readable part of a hashed name, and of its hash (hex digits of SHA-256).
_SLUG_CHARS, _HASH_CHARS = 40, 12
#: Prefix of the staging folders :func:`staging` creates (a crashed run may leave one behind).
STAGING_PREFIX = ".staging-"
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


def safe_name(identifier: str) -> str:
    """The file-name form of an identifier (a partner id): deterministic, injective, portable.

    An id of ASCII letters, digits, ``_`` and ``-`` (at most 64 characters, not starting with
    ``_``/``-``, not a Windows device name such as ``CON``) is used as it is: ``P0001`` →
    ``P0001``. Any other id becomes a readable slug (ASCII letters and digits of the id, runs of
    anything else as ``_``, at most 40 characters) + ``.`` + the first 12 hex digits of the
    SHA-256 of the id: ``a/b`` → ``a_b.<hash>``, ``../..`` → ``id.<hash>``, ``名前`` →
    ``id.<hash>``. Plain ids never contain ``.``, so a plain id and a hashed name never collide;
    the result never contains a path separator, never starts with ``.`` and never ends with one.
    The manifest, the index and the ledger keep the real id; only file names use this form.
    """
    text = str(identifier)
    if _PLAIN.fullmatch(text) and text.upper() not in _RESERVED:
        return text
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "_", ascii_text).strip("_")[:_SLUG_CHARS].strip("_") or "id"
    if slug.upper() in _RESERVED:
        slug += "_"
    return f"{slug}.{sha256_bytes(text)[:_HASH_CHARS]}"


@contextmanager
def staging(parent: str | Path) -> Iterator[Path]:
    """A fresh staging folder inside ``parent`` (``.staging-*``), removed when the block ends.

    Write the new versions of some of ``parent``'s folders into it, then :func:`publish` them
    before the block ends. If the block raises, nothing in ``parent`` outside the staging folder
    has changed.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=parent, prefix=STAGING_PREFIX))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def clear_staging(parent: str | Path) -> list[Path]:
    """Remove the staging folders a killed process left in ``parent``; returns what was removed.

    Only for a caller that holds the lock of ``parent`` (no other writer can be staging there)."""
    stale = [path for path in Path(parent).glob(f"{STAGING_PREFIX}*") if path.is_dir()]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def publish(stage: str | Path, parent: str | Path, names) -> list[Path]:
    """Move ``stage/<name>`` to ``parent/<name>`` for each name, replacing what was there.

    Each folder is swapped with two renames in the same file system (the old one moved into the
    staging folder, the new one moved into place), so a reader sees the complete old folder or
    the complete new one — never a half-written one — and the old one is deleted with the staging
    folder. Callers hold the run lock, so no other writer races the swap. Returns the new paths.
    """
    stage, parent = Path(stage), Path(parent)
    placed = []
    for name in names:
        new, target = stage / name, parent / name
        if not new.exists():
            continue
        if target.exists() or target.is_symlink():
            os.rename(target, stage / f".old-{name.lstrip('.')}")
        os.rename(new, target)
        placed.append(target)
    return placed
