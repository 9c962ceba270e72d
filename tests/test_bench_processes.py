"""The benchmark's check that no process outlives a run (benchmarks/processes.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from benchmarks import processes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def token(monkeypatch):
    token = "test-" + os.urandom(6).hex()
    monkeypatch.setenv(processes.MARKER, token)
    return token


@pytest.fixture
def new_since(token):
    """``left_behind`` without the processes this test process already had before the test (in a
    long-lived test worker, e.g. the fork server another test's render started, which lives as
    long as its parent by design)."""
    before = {p["pid"] for p in processes.left_behind(token)}

    def new(tok=token, **kwargs):
        return [p for p in processes.left_behind(tok, **kwargs) if p["pid"] not in before]

    return new


def test_a_live_child_is_left_behind_and_a_finished_one_is_not(new_since):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert [p["pid"] for p in new_since()] == [child.pid]
    finally:
        child.kill()
        child.wait()
    assert new_since() == []


def test_an_orphan_re_parented_away_from_us_is_found_by_its_marker(new_since):
    orphan = _orphan()  # no descendant of this process any more
    try:
        found = new_since()
        assert [p["pid"] for p in found] == [orphan] and "sleep" in found[0]["cmdline"]
        assert found[0]["ppid"] != os.getpid()
    finally:
        os.kill(orphan, signal.SIGKILL)
    assert new_since(wait=5) == []


def _orphan(env=None) -> int:
    """A sleeper whose parent shell has exited (re-parented away from this process)."""
    out = subprocess.run(["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"], capture_output=True,
                         text=True, check=True, env=env)
    return int(out.stdout.strip())


def test_a_process_of_another_run_is_not_counted(new_since):
    other = _orphan({**os.environ, processes.MARKER: "another-run"})
    try:
        assert new_since() == []
        assert [p["pid"] for p in new_since("another-run")] == [other]
    finally:
        os.kill(other, signal.SIGKILL)
