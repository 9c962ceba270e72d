"""channel_analysis.files: atomic writes, SHA-256 of files and bytes, URL or path."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

import pytest

from channel_analysis.files import (atomic_path, clear_staging, is_url, publish, safe_name, sha256_bytes, sha256_file,
                                    staging, write_atomic)


def test_write_atomic_writes_bytes_and_utf8_text_and_creates_the_folder(tmp_path):
    target = tmp_path / "new" / "folder" / "report.html"

    assert write_atomic(target, "Umsatz ↑ 12 %") == target
    assert target.read_bytes() == "Umsatz ↑ 12 %".encode("utf-8")
    write_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # readable like any other output file
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temporary file left


def test_atomic_path_replaces_the_target_only_when_the_writer_succeeds(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")

    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".tmp-table.csv.")
            tmp.write_text("half a fi")
            raise RuntimeError("disk full")

    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"  # readers see the old file until the block ends
    assert target.read_text() == "new"


def test_sha256_of_file_and_bytes_agree_with_hashlib(tmp_path):
    data = b"x" * (3 << 20) + b"tail"  # more than one read block
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()

    assert sha256_file(path) == sha256_bytes(data) == expected
    assert sha256_bytes("é") == hashlib.sha256("é".encode("utf-8")).hexdigest()


@pytest.mark.parametrize("source, expected", [
    ("sqlite:///exports.db", True),
    ("postgresql://user@host/db", True),
    ("data/sample", False),
    ("C:\\exports\\2026Q3", False),
    (Path("sqlite:///x.db"), False),  # a Path is a path, whatever it holds
])
def test_is_url(source, expected):
    assert is_url(source) is expected


ODD_IDS = ["../..", "a/b", "a\\b", "CON", "con", "名前", "x" * 300, "P1.", ".", "..", " P1", "-x", "a_b"]


def test_safe_name_is_a_plain_portable_file_name_and_injective():
    names = [safe_name(pid) for pid in ODD_IDS]
    assert len(set(names)) == len(names)
    for pid, name in zip(ODD_IDS, names):
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[0-9a-f]{12})?", name), (pid, name)
        assert len(name) <= 64 and name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL"}
        assert safe_name(pid) == name  # deterministic
    assert safe_name("P0001") == "P0001" and safe_name("007") == "007"  # plain ids stay as they are
    assert safe_name("a_b") == "a_b" != safe_name("a/b")
    assert safe_name("a/b") == f"a_b.{hashlib.sha256(b'a/b').hexdigest()[:12]}"


def test_staging_swaps_complete_folders_and_a_failure_changes_nothing(tmp_path):
    (tmp_path / "kpis").mkdir()
    (tmp_path / "kpis" / "old.csv").write_text("old")
    with pytest.raises(RuntimeError):
        with staging(tmp_path) as stage:
            (stage / "kpis").mkdir()
            (stage / "kpis" / "new.csv").write_text("half")
            raise RuntimeError("the statistics step failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kpis"]
    assert [p.name for p in (tmp_path / "kpis").iterdir()] == ["old.csv"]

    with staging(tmp_path) as stage:
        (stage / "kpis").mkdir()
        (stage / "kpis" / "new.csv").write_text("new")
        (stage / ".work").mkdir()
        assert publish(stage, tmp_path, ["kpis", ".work", "absent"]) == [tmp_path / "kpis", tmp_path / ".work"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".work", "kpis"]  # no staging folder left
    assert [p.name for p in (tmp_path / "kpis").iterdir()] == ["new.csv"]

    # a staging folder a killed process left behind is removed by the next holder of the lock
    left = tmp_path / ".staging-killed"
    (left / "kpis").mkdir(parents=True)
    assert clear_staging(tmp_path) == [left] and not left.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".work", "kpis"]
