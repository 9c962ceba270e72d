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
from ..files import sha256_bytes, sha256_file


def _digest(*parts) -> str:
    """Hex SHA-256 of ``parts`` (each as text, NUL-separated, so no two lists hash alike)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode("utf-8") + b"\0")
    return h.hexdigest()


def tree_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, or of a folder's files (relative names and contents, sorted).

    A missing path hashes as ``"missing"`` (the render then fails on it with a clear error).
    """
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        return "missing"
    parts = []
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        parts += [item.relative_to(path).as_posix(), sha256_file(item)]
    return _digest(*parts)


def context_sha256(*, notebook_text: str, template_dir: str | Path, kernel_name: str, extra: str = "") -> str:
    """Hex SHA-256 of what every report of one kind shares: notebook source, template files,
    kernel, package version and the statistics step's ``extra`` text. Computed once per run."""
    return _digest(
        "notebook", sha256_bytes(notebook_text),
        "template", tree_sha256(template_dir),
        "kernel", kernel_name,
        "version", __version__,
        "extra", extra,
    )


def report_fingerprint(*, context: str, bundle_path: str | Path, parameters: dict, title: str) -> str:
    """Hex SHA-256 of one report's inputs: the shared ``context`` (:func:`context_sha256`), the
    bundle's content, the injected parameters except the bundle's location, and the title."""
    relevant = {k: v for k, v in parameters.items() if k != "bundle_path"}
    return _digest(
        "context", context,
        "bundle", tree_sha256(bundle_path),
        "params", json.dumps(relevant, sort_keys=True, default=str),
        "title", title,
    )
