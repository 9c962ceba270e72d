"""Fingerprints: what a report depends on, hashed, so a re-run renders only what changed.

A report's fingerprint is the SHA-256 of: its bundle's content (a file, or every file of a folder),
the notebook source, every file of the HTML template, the injected notebook parameters except the
bundle's location (moving the reports folder changes nothing), the report title, the kernel, the
package version and the statistics step's ``fingerprint_extra``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import __version__

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, or of a folder's files (relative names and contents, sorted).

    A missing path hashes as ``"missing"`` (the render then fails on it with a clear error).
    """
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        return "missing"
    h = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(item.relative_to(path).as_posix().encode() + b"\0")
        h.update(file_sha256(item).encode() + b"\0")
    return h.hexdigest()


def context_sha256(*, notebook_text: str, template_dir: str | Path, kernel_name: str, extra: str = "") -> str:
    """Hex SHA-256 of what every report of one kind shares: notebook source, template files,
    kernel, package version and the statistics step's ``extra`` text. Computed once per run."""
    h = hashlib.sha256()
    for part in (
        "notebook", hashlib.sha256(notebook_text.encode("utf-8")).hexdigest(),
        "template", tree_sha256(template_dir),
        "kernel", kernel_name,
        "version", __version__,
        "extra", extra,
    ):
        h.update(str(part).encode("utf-8") + b"\0")
    return h.hexdigest()


def report_fingerprint(*, context: str, bundle_path: str | Path, parameters: dict, title: str) -> str:
    """Hex SHA-256 of one report's inputs: the shared ``context`` (:func:`context_sha256`), the
    bundle's content, the injected parameters except the bundle's location, and the title."""
    relevant = {k: v for k, v in parameters.items() if k != "bundle_path"}
    h = hashlib.sha256()
    for part in (
        "context", context,
        "bundle", tree_sha256(bundle_path),
        "params", json.dumps(relevant, sort_keys=True, default=str),
        "title", title,
    ):
        h.update(str(part).encode("utf-8") + b"\0")
    return h.hexdigest()
