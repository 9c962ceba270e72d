"""Run parameters: ``params/defaults.yaml`` ← run file ← command line, strictly checked.

A key that is not in the defaults is an error naming the key, the file and the closest known key
(papermill would only warn). Values must have the type of their default (an int is accepted where
a float is expected). Mappings marked free-form accept any keys and replace the default mapping as a whole (so a
criterion can be dropped); lists are replaced too.

The result is a plain nested ``dict`` (what an analyst expects to read in a notebook) with
``as_of`` as a :class:`datetime.date`, ``period`` resolved to a quarter label and
``data.source`` / ``output_dir`` resolved to absolute paths (or the SQLAlchemy URL as given).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
from pathlib import Path
from typing import Any, Mapping

import yaml

from . import periods
from .errors import ParamsError
from .files import is_url
from .io.mapping import merge_fragments, parse_tables, read_fragment
from .resources import PROJECT_ROOT, shipped

DEFAULTS_FILE = shipped("defaults.yaml")
#: The run file of the sample dataset: the default of a command given neither --params nor --data.
SAMPLE_RUN_FILE = shipped("sample.yaml")
#: The run file ``channel-analysis init`` writes next to an extract, and that a command given
#: ``--data`` without ``--params`` uses (:func:`run_file_for`).
RUN_FILE_NAME = "channel-analysis.yaml"

# Mappings whose keys are the user's to name (dotted paths from the top).
FREE_FORM = frozenset(
    {"data.tables", "segmentation.weights", "segmentation.matrix_actions", "delivery.headers",
     "report.account_managers", "accounts.coverage_models"}
    | {f"labels.{kind}" for kind in ("stage", "category", "tier", "action", "partner_type", "region", "country",
                                     "segment")}
    | {"programme.treatment_map", "programme.treatments", "labels.criterion", "labels.treatment"}
)


def _read_yaml(path: Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"parameters file not found: {path}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ParamsError(f"{path} must hold a mapping of keys, not {type(loaded).__name__}")
    return loaded


def read_run_file(path: str | Path) -> dict:
    """The keys a run file sets, as written (not merged with the defaults, not checked)."""
    return _read_yaml(Path(path))


def load_defaults() -> dict:
    """The documented defaults, as shipped in params/defaults.yaml."""
    return _read_yaml(DEFAULTS_FILE)


def _type_ok(default: Any, value: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, (dt.date, str)):
        return isinstance(value, (str, dt.date))
    return isinstance(value, type(default))


def merge(base: dict, override: Mapping, *, source: str, _path: str = "") -> dict:
    """Deep-merge ``override`` into a copy of ``base``; unknown keys and wrong types raise."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        dotted = f"{_path}{key}"
        if key not in base:
            close = difflib.get_close_matches(str(key), [str(k) for k in base], n=1)
            hint = f"; did you mean '{_path}{close[0]}'?" if close else ""
            known = ", ".join(sorted(map(str, base)))
            raise ParamsError(
                f"{source}: unknown parameter {dotted!r}{hint} (known keys here: {known})"
            )
        default = base[key]
        if dotted in FREE_FORM:  # the user's mapping replaces the default one as a whole
            if not isinstance(value, Mapping):
                raise ParamsError(f"{source}: {dotted!r} must be a mapping of keys")
            out[key] = copy.deepcopy(dict(value))
        elif isinstance(default, dict):
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                raise ParamsError(f"{source}: {dotted!r} must be a mapping of keys")
            out[key] = merge(default, value, source=source, _path=dotted + ".")
        elif not _type_ok(default, value):
            raise ParamsError(
                f"{source}: {dotted!r} must be {type(default).__name__} like {default!r}, "
                f"got {value!r}"
            )
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_assignment(text: str) -> dict:
    """``"kpis.min_sample=10"`` → ``{"kpis": {"min_sample": 10}}`` (value parsed as YAML)."""
    if "=" not in text:
        raise ParamsError(f"--set {text!r}: write KEY=VALUE, e.g. --set kpis.min_sample=10")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw) if raw.strip() else None
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def run_file_for(source: str | Path) -> Path:
    """The run file that belongs to an extract: ``channel-analysis.yaml`` in its folder, next to
    its ``.duckdb`` file, or (a database URL) in the current folder."""
    if is_url(source):
        return Path.cwd() / RUN_FILE_NAME
    path = Path(source).expanduser().resolve()
    return (path if path.is_dir() or not path.suffix else path.parent) / RUN_FILE_NAME


def _resolve_path(value: str, base: Path) -> str:
    if is_url(value):  # SQLAlchemy URL
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def finalize(params: dict, *, root: Path = PROJECT_ROOT) -> dict:
    """Check required values and resolve derived ones (as_of, period, paths)."""
    out = copy.deepcopy(params)
    as_of = out.get("as_of")
    if as_of is None:
        raise ParamsError(
            "as_of is required: set it in the run file (as_of: 2026-10-05) or pass --as-of"
        )
    if isinstance(as_of, str):
        try:
            as_of = dt.date.fromisoformat(as_of)
        except ValueError:
            raise ParamsError(f"as_of {as_of!r} is not a date; write it as YYYY-MM-DD") from None
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    out["as_of"] = as_of
    fy = out["fiscal_year_start_month"]
    periods.quarter_freq(fy)  # validates the month
    if out.get("period") is None:
        out["period"] = periods.last_complete_quarter(as_of, fy)
    else:
        out["period"] = str(periods.parse_quarter(out["period"], fy))
        start, _ = periods.quarter_bounds(out["period"], fy)
        if start.date() > as_of:
            raise ParamsError(
                f"period {out['period']} starts after as_of {as_of}: a run cannot report a "
                "quarter that has not begun"
            )
    out["data"]["source"] = _resolve_path(str(out["data"]["source"]), root)
    _merge_mapping_files(out["data"], root)
    # every table mapping checked once, before reading, and kept in its canonical plain form
    out["data"]["tables"] = {name: m.as_params() for name, m in parse_tables(out["data"]["tables"]).items()}
    out["output_dir"] = _resolve_path(str(out["output_dir"]), root)
    weights = out["segmentation"]["weights"]
    bad = {k: v for k, v in weights.items() if not isinstance(v, (int, float)) or v < 0}
    if bad or not weights:
        raise ParamsError(
            "segmentation.weights must map KPI columns to non-negative numbers, "
            f"got {bad or 'nothing'}"
        )
    if out["segmentation"]["missing"] not in {"renormalize", "zero"}:
        raise ParamsError("segmentation.missing must be 'renormalize' or 'zero'")
    if out["delivery"]["smtp"]["security"] not in {"starttls", "tls", "none"}:
        raise ParamsError("delivery.smtp.security must be 'starttls', 'tls' or 'none'")
    return out


def _merge_mapping_files(data: dict, root: Path) -> None:
    """``data.mapping`` (a path or a list of paths) resolved, and its files' tables merged under
    ``data.tables`` (the run file's entries win; see :func:`channel_analysis.io.mapping.merge_fragments`)."""
    files = data.get("mapping")
    if files is None:
        return
    files = [files] if isinstance(files, str) else files
    if not isinstance(files, list) or not files or not all(isinstance(f, str) and f.strip() for f in files):
        raise ParamsError(f"data.mapping must be a mapping file's path or a list of paths, got {data['mapping']!r}")
    paths = [Path(_resolve_path(f, root)) for f in files]
    data["mapping"] = [str(p) for p in paths]
    data["tables"] = merge_fragments([read_fragment(p) for p in paths], data.get("tables") or {})


def load_params(
    run_file: str | Path | None = None,
    overrides: Mapping | None = None,
    *,
    root: Path = PROJECT_ROOT,
) -> dict:
    """Defaults ← run file ← overrides (e.g. from the command line), checked and resolved.

    Relative paths in the run file are relative to the project ``root``.
    """
    params = load_defaults()
    if run_file is not None:
        params = merge(params, _read_yaml(Path(run_file)), source=str(run_file))
    if overrides:
        params = merge(params, overrides, source="command line")
    return finalize(params, root=root)


# --- choosing and overriding a run file (shared by the command line and channel_analysis.api) ----

def choose_run_file(run_file: str | Path | None, data: str | Path | None = None) -> Path:
    """The run file a run uses: ``run_file`` when given; else, given ``data``, the one next to the
    data (:func:`run_file_for`: the sample's dates are never used for the user's data); else the
    sample's (:data:`SAMPLE_RUN_FILE`). A missing run file next to the data is an error saying to
    write it with ``channel-analysis init``."""
    if run_file is not None:
        return Path(run_file)
    if not data:
        return SAMPLE_RUN_FILE
    candidate = run_file_for(data)
    if candidate.is_file():
        return candidate
    raise ParamsError(
        f"no run file for {data}: {candidate} does not exist. Write one from the data with "
        f"`channel-analysis init --data {data}` (it finds as_of, the period, the currency and "
        "the pipeline stages), check it, and run again; or name a run file (--params RUN_FILE)"
    )


def user_source(data: str | Path) -> str:
    """A source given by the user: a path resolved against the current folder (where the user
    is), a database URL kept as it is."""
    text = str(data)
    return text if is_url(text) else str(Path(text).expanduser().resolve())


def data_override(data: str | Path) -> dict:
    """``{"data": {"source": …}}`` for a source given by the user (:func:`user_source`)."""
    return {"data": {"source": user_source(data)}}


def deep_update(base: dict, extra: Mapping) -> dict:
    """``extra`` merged into ``base`` in place (nested mappings merged key by key), unchecked:
    :func:`load_params` checks the result."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(dict(value)) if isinstance(value, Mapping) else value
    return base
