"""Installable as a package: the wheel, built from a copy of the project, installed into a fresh
virtual environment outside the repository, runs `channel-analysis sample` and `render` there —
the defaults, the sample's run file and the notebooks come from the package (importlib.resources),
not from a checkout.

The new environment gets only the wheel; its dependencies are those of the environment running
the tests (their code through a .pth file, their Jupyter data files — nbconvert's base templates —
through JUPYTER_PATH), so nothing is downloaded but the build backend."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pandas as pd
import pytest
from jupyterlab_server.settings_utils import _get_overrides

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1]
#: what JupyterLab opens a .py file with (jupytext's viewer: the py:percent file as a notebook)
VIEWER = ("@jupyterlab/docmanager-extension:plugin", "defaultViewers", "python")
IGNORED = shutil.ignore_patterns(".git", ".venv", "reports", "data", "build", "dist", "*.egg-info",
                                 "__pycache__", ".pytest_cache", ".hypothesis", "benchmarks")


def _run(args, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kw)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the new environment's bin folder, the environment variables to run it with)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(PROJECT, source, ignore=IGNORED)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", root / "dist", source])
    wheel, = (root / "dist").glob("channel_analysis-*.whl")

    venv = root / "venv"
    _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv])
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip())
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "test-dependencies.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
          "--no-index", wheel])

    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH"}}
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    return bin_dir, env


def test_the_installed_package_reads_its_files_from_the_wheel(installed, tmp_path):
    bin_dir, env = installed
    out = _run([bin_dir / "python", "-c",
                "import json, channel_analysis as c, channel_analysis.params as p, "
                "channel_analysis.render.runner as r, channel_analysis.resources as s; "
                "print(json.dumps([c.__file__, s.FROM_CHECKOUT, str(p.DEFAULTS_FILE), "
                "str(r.SCORECARD_NOTEBOOK), str(s.PROJECT_ROOT)]))"], cwd=tmp_path, env=env)
    module, from_checkout, defaults, notebook, root = json.loads(out.stdout)
    venv = bin_dir.parent
    assert Path(module).is_relative_to(venv) and not from_checkout
    assert Path(defaults).is_relative_to(venv) and Path(defaults).read_text(encoding="utf-8") == \
        (PROJECT / "params" / "defaults.yaml").read_text(encoding="utf-8")
    assert Path(notebook).is_relative_to(venv) and Path(notebook).name == "partner_scorecard.py"
    assert Path(root) == tmp_path  # relative paths start from where the command runs


def test_sample_and_render_three_partners_from_the_wheel(installed, tmp_path):
    bin_dir, env = installed
    cli = bin_dir / "channel-analysis"
    _run([cli, "sample", "--partners", "12", "--quarters", "4"], cwd=tmp_path, env=env)
    partners = pd.read_parquet(tmp_path / "data" / "sample" / "partners.parquet")
    three = partners.loc[partners["end_date"].isna(), "partner_id"].head(3).tolist()
    done = _run([cli, "render", "--partners", ",".join(three), "--workers", "1"], cwd=tmp_path, env=env)
    assert "package_data/sample.yaml" in done.stdout.replace(os.sep, "/")  # the wheel's run file
    manifest = json.loads((tmp_path / "reports" / "2026Q3" / "manifest.json").read_text(encoding="utf-8"))
    assert {pid: r["status"] for pid, r in manifest["reports"].items()} == dict.fromkeys(three, "ok")
    for report in manifest["reports"].values():
        page = (tmp_path / "reports" / "2026Q3" / report["output"]).read_text(encoding="utf-8")
        assert report["partner_id"] in page and "<style" in page


def _python_viewer(settings_dir: Path) -> str | None:
    """The default viewer of .py files JupyterLab reads from an app settings folder."""
    overrides, error = _get_overrides(str(settings_dir))
    assert not error, error
    plugin, key, language = VIEWER
    return overrides.get(plugin, {}).get(key, {}).get(language)


def test_lab_opens_the_notebooks_as_notebooks_with_the_settings_shipped(installed):
    bin_dir, _ = installed
    # the installed package put its override into the environment's Lab settings
    assert _python_viewer(bin_dir.parent / "share" / "jupyter" / "lab" / "settings") == "Jupytext Notebook"
    # the checkout's own copy (`make lab` points Lab at it: an editable install skips data files)
    assert _python_viewer(PROJECT / "jupyter" / "lab" / "settings") == "Jupytext Notebook"
