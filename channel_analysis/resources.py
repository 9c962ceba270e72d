"""The files the package ships besides its code, and the folder relative paths start from.

One source of truth: the project's top-level folders, where these files are read and edited —
``params/defaults.yaml`` (every documented parameter), ``params/sample.yaml`` (the sample's run
file), ``notebooks/partner_scorecard.py`` and ``notebooks/network_overview.py`` (the pages). A
wheel carries a copy of them made when it is built (``setup.py``: ``build_py`` copies them into
``channel_analysis/package_data/``), read with :mod:`importlib.resources`. A source checkout (an
editable install, the tests) reads the top-level files themselves, so an edit shows at once.
Templates and translation catalogs live inside the package (``templates/``, ``locale/``).

:data:`PROJECT_ROOT`: where relative paths of run files and the default data / report folders
start — the checkout's root, or for an installed package the current folder when it is imported.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: shipped file name → its path in a source checkout (the one copy that is edited)
SHIPPED = {
    "defaults.yaml": "params/defaults.yaml",
    "sample.yaml": "params/sample.yaml",
    "partner_scorecard.py": "notebooks/partner_scorecard.py",
    "network_overview.py": "notebooks/network_overview.py",
}
#: the package folder a wheel's copies are in
PACKAGE_DATA = "package_data"

_CHECKOUT = Path(__file__).resolve().parents[1]
#: True when the package runs from a source checkout (its pyproject.toml and params/ next to it)
FROM_CHECKOUT = (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / SHIPPED["defaults.yaml"]).is_file()
PROJECT_ROOT = _CHECKOUT if FROM_CHECKOUT else Path.cwd()


def shipped(name: str) -> Path:
    """The path of a shipped file (a key of :data:`SHIPPED`): the checkout's, else the wheel's copy."""
    if FROM_CHECKOUT:
        return _CHECKOUT / SHIPPED[name]
    return Path(str(files(__package__) / PACKAGE_DATA / name))


def package_folder(name: str) -> Path:
    """A folder inside the package (``templates``, ``locale``), as a path on disk."""
    return Path(str(files(__package__) / name))
