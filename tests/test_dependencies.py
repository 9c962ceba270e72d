"""Dependencies a maintainer can trust: the installed versions are within pyproject.toml's
bounds (the project copies or subclasses internals of nbconvert, papermill and IPython, so those
are bounded above to the versions tested), requirements.lock agrees with them, and
environment.yml names every dependency on conda-forge."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
#: whose internals the project relies on: bounded above in pyproject.toml
RELIED_ON = ("nbconvert", "papermill", "ipython")
#: PyPI name → conda-forge name, where they differ
CONDA_NAMES = {"duckdb": "python-duckdb", "pandera": "pandera-base", "matplotlib": "matplotlib-base",
               "nbconvert": "nbconvert-core", "css-inline": "css_inline", "dask": "dask-core"}


def _requirements() -> list[Requirement]:
    extras = [r for group in PYPROJECT["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in PYPROJECT["dependencies"] + extras]


def _lock() -> dict[str, list[tuple[Version, str]]]:
    """requirements.lock: name → [(version, environment marker)]."""
    pins: dict[str, list[tuple[Version, str]]] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?$", line)
        if m:
            pins.setdefault(canonicalize_name(m[1]), []).append((Version(m[2]), m[3] or ""))
    return pins


@pytest.mark.parametrize("req", _requirements(), ids=str)
def test_the_installed_version_is_within_the_tested_range(req):
    try:
        installed = version(req.name)
    except PackageNotFoundError:
        pytest.skip(f"{req.name} is not installed (an extra this environment does not have)")
    assert req.specifier.contains(installed, prereleases=True), (
        f"{req.name} {installed} is installed, but channel-analysis is tested with {req} "
        f"(pyproject.toml). Install the locked versions (`make setup`, requirements.lock); to move "
        f"to {installed}, check what the project relies on (the comment above it in pyproject.toml), "
        f"widen the bound and run `make lock`."
    )


def test_the_packages_whose_internals_are_used_are_bounded_above():
    bounded = {canonicalize_name(r.name): r for r in _requirements()}
    for name in RELIED_ON:
        assert any(s.operator in {"<", "<=", "==", "~="} for s in bounded[name].specifier), (
            f"{name} has no upper bound in pyproject.toml: the project relies on its internals")


def test_the_lock_pins_every_dependency_within_its_bounds():
    pins = _lock()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: run `make lock`"
        for pinned, marker in pins[name]:
            assert req.specifier.contains(pinned, prereleases=True), (
                f"requirements.lock pins {req.name}=={pinned} {marker}, outside {req}: run `make lock`")
    for name in RELIED_ON:
        assert len(pins[canonicalize_name(name)]) == 1, f"{name}: one version on every platform"


def test_every_lock_entry_has_hashes():
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert entries and all("--hash=sha256:" in e for e in entries if "==" in e)


def test_environment_yml_takes_every_dependency_from_conda_forge():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge"]
    listed = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0]: d for d in env["dependencies"] if isinstance(d, str)}
    assert not any(isinstance(d, dict) for d in env["dependencies"]), "nothing from PyPI inside conda"
    for req in _requirements():
        name = CONDA_NAMES.get(canonicalize_name(req.name), canonicalize_name(req.name))
        assert name in listed, f"environment.yml lacks {name} (PyPI: {req.name})"
        if canonicalize_name(req.name) in RELIED_ON:  # the same bounds as pyproject.toml
            bounds = set(listed[name][len(name):].replace(" ", "").split(","))
            assert bounds == {str(s) for s in req.specifier}, f"environment.yml: {listed[name]}, pyproject: {req}"
