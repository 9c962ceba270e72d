"""Build hook: the wheel carries the files whose one copy is in the project's top-level folders
(params/defaults.yaml, params/sample.yaml, the two report notebooks), copied into
channel_analysis/package_data/ — the list is ``SHIPPED`` in channel_analysis/resources.py. All
other metadata is in pyproject.toml."""

import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
_RESOURCES = runpy.run_path(str(HERE / "channel_analysis" / "resources.py"))


class BuildPyWithShippedFiles(build_py):
    """``build_py`` that also copies the shipped top-level files into the built package (not for an
    editable install, which reads the checkout's files)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "channel_analysis" / _RESOURCES["PACKAGE_DATA"]
        target.mkdir(parents=True, exist_ok=True)
        for name, source in _RESOURCES["SHIPPED"].items():
            shutil.copyfile(HERE / source, target / name)


setup(cmdclass={"build_py": BuildPyWithShippedFiles})
