"""The ``channel-analysis`` command (also ``python -m channel_analysis``).

Each subcommand parses its options, loads the parameters (defaults ← run file ← options) and calls
one function of the package. Problems with input are printed as one clear message (no traceback)
and exit with status 2; a run where some partners failed exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import ChannelAnalysisError
from .files import is_url
from .params import (PROJECT_ROOT, RUN_FILE_NAME, SAMPLE_RUN_FILE, choose_run_file, data_override, deep_update,
                     load_params, parse_assignment, read_run_file, run_file_for, user_source)


def _shown(path: Path) -> str:
    """A path for help texts: relative to the project root when inside it."""
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def _add_run_options(p: argparse.ArgumentParser, *, period: bool = True) -> None:
    p.add_argument("--params", type=Path, default=None,
                   help="run file (YAML) merged over params/defaults.yaml [with --data: the "
                        f"{RUN_FILE_NAME} next to the data (see `channel-analysis init`); without: "
                        f"{_shown(SAMPLE_RUN_FILE)}]")
    p.add_argument("--data", help="input source overriding data.source: a folder of CSV/Parquet files, "
                                  "a .duckdb file or a SQLAlchemy URL")
    p.add_argument("--as-of", dest="as_of", help="the date the run describes (YYYY-MM-DD)")
    if period:
        p.add_argument("--period", help="quarter to report, e.g. 2026Q3 [last complete quarter at as_of]")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                   help="override any parameter, e.g. --set kpis.min_sample=10 (repeatable)")


def _run_file(args: argparse.Namespace) -> Path:
    """The run file: --params; else, given --data, the one next to the data; else the sample's
    (:func:`channel_analysis.params.choose_run_file`)."""
    return choose_run_file(args.params, args.data)


def _origin(args: argparse.Namespace, key: str, option: str) -> str:
    if getattr(args, key, None):
        return option
    if any(a.split("=", 1)[0].strip() == key for a in args.assignments):
        return f"--set {key}"
    return "the run file"


def _provenance(args: argparse.Namespace, run_file: Path, params: dict) -> str:
    """One line: which run file and data a command uses, and where as_of and the period came from."""
    try:
        shown = run_file.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = run_file
    period = _origin(args, "period", "--period")
    if period == "the run file" and read_run_file(run_file).get("period") is None:
        period = "the last quarter ended by as_of"
    return (f"run file {shown} · data {params['data']['source']} · as_of {params['as_of']} "
            f"(from {_origin(args, 'as_of', '--as-of')}) · period {params['period']} "
            f"(from {period})")


def _params_from(args: argparse.Namespace) -> dict:
    run_file = _run_file(args)
    overrides: dict = {}
    for text in args.assignments:
        deep_update(overrides, parse_assignment(text))
    if args.data:  # a path on the command line is relative to where the user is
        deep_update(overrides, data_override(args.data))
    if args.as_of:
        overrides["as_of"] = args.as_of
    if getattr(args, "period", None):
        overrides["period"] = args.period
    if getattr(args, "partners", None):
        deep_update(overrides, {"render": {"partners": _split_ids(args.partners)}})
    if getattr(args, "workers", None) is not None:
        deep_update(overrides, {"render": {"workers": args.workers}})
    params = load_params(run_file, overrides)
    print(_provenance(args, run_file, params), flush=True)
    return params


def _split_ids(text: str) -> list[str]:
    """Partner ids from "P001,P002" (ids stay strings: "007" keeps its zeros)."""
    return [part.strip() for part in text.split(",") if part.strip()]


# --- subcommands -------------------------------------------------------------------------------

def cmd_sample(args: argparse.Namespace) -> int:
    from . import sample

    tables = sample.generate(
        partners=args.partners, quarters=args.quarters, seed=args.seed, as_of=args.as_of,
        lines=args.lines,
    )
    out = sample.write(tables, Path(args.out), fmt=args.format)
    n_sales = len(tables["sales"])
    print(f"wrote {len(tables)} tables ({args.partners} partners, {n_sales:,} sales lines) to {out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    params = _params_from(args)
    from . import validation

    report = validation.validate_source(params)
    path = report.write(args.report) if args.report else None
    print(report.format(written_to=path))
    if path is not None:
        print(f"wrote every problem ({len(report.problems):,} rows) to {path}")
    return 0 if report.ok else 2


def cmd_kpis(args: argparse.Namespace) -> int:
    params = _params_from(args)
    from . import quarter

    stats, paths = quarter.write_tables(params, args.out)
    for path in paths:
        print(f"wrote {path}")
    print(stats.summary())
    print(stats.notes["backtest"])
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    params = _params_from(args)
    from . import quarter

    summary = quarter.run(params, force=args.force, scheduler=args.scheduler)
    print(summary.format())
    return 0 if summary.ok else 1


def cmd_audit(args: argparse.Namespace) -> int:
    params = _params_from(args)
    from . import audit, build

    result = audit.check_run(build.run_dir(params))
    print(result.summary())
    return 0 if result.ok else 1


def cmd_send(args: argparse.Namespace) -> int:
    params = _params_from(args)
    from . import delivery

    summary = delivery.run(params, send=args.send, yes=args.yes, resend=args.resend,
                           retry_failed=args.retry_failed)
    print(summary.format())
    return 0 if summary.ok else 1


def cmd_init(args: argparse.Namespace) -> int:
    from . import starter

    source = user_source(args.data)
    mapping = [Path(f).expanduser().resolve() for f in args.mapping]
    path, found = starter.write(source, args.out, mapping=mapping, force=args.force, progress=True)
    present = [name for name in found.tables if found.has(name)]
    print(f"wrote {path}")
    print(f"  as_of {found.as_of:%Y-%m-%d} (latest {found.as_of_from}) · period {found.period} · "
          f"tables: {', '.join(present)}")
    for name, message in found.failures.items():
        print(f"  {name}: cannot be read: {message}")
    shown = args.data if is_url(args.data) else str(Path(args.data))
    if path == run_file_for(source):
        print(f"next: check the file, then `channel-analysis validate --data {shown}` "
              f"(a command given --data uses the {path.name} next to the data)")
    else:
        print(f"next: check the file, then `channel-analysis validate --params {path}`")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from . import datadoc, exports, measures

    for path in (datadoc.write(Path(args.out)), exports.write_doc(Path(args.exports_out)),
                 measures.write_catalog_doc()):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="channel-analysis",
        description="Quarterly partner scorecards and channel network overview.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sample", help="generate the sample dataset")
    p.add_argument("--partners", type=int, default=200, help="number of partners [%(default)s]")
    p.add_argument("--quarters", type=int, default=8, help="quarters of history [%(default)s]")
    p.add_argument("--lines", type=int, default=None,
                   help="approximate number of sales lines [scales with partners: ~150 per partner-quarter]")
    p.add_argument("--seed", type=int, default=7, help="random seed; same seed, same data [%(default)s]")
    p.add_argument("--as-of", dest="as_of", default="2026-10-05", help="date the data ends [%(default)s]")
    p.add_argument("--out", default=str(PROJECT_ROOT / "data" / "sample"), help="output folder [%(default)s]")
    p.add_argument("--format", choices=["parquet", "csv", "duckdb"], default="parquet",
                   help="file format [%(default)s]")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("init", help="inspect an extract and write a starter run file next to it")
    p.add_argument("--data", required=True, help="the extract: a folder of CSV/Parquet files, a .duckdb "
                                                 "file or a SQLAlchemy URL")
    p.add_argument("--out", help=f"run file to write [{RUN_FILE_NAME} next to the data; in the current "
                                 "folder for a database URL]")
    p.add_argument("--mapping", action="append", default=[], metavar="FILE",
                   help="read the extract through this mapping file, e.g. params/mappings/salesforce.yaml "
                        "(repeatable; written to data.mapping; see docs/mappings.md)")
    p.add_argument("--force", action="store_true", help="replace an existing run file")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("validate", help="check every input table; print all problems at once")
    _add_run_options(p, period=False)
    p.add_argument("--report", help="also write every problem, untruncated, to this file "
                                    "(.csv, or .parquet)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("kpis", help="write the KPI table (CSV + Parquet)")
    _add_run_options(p)
    p.add_argument("--out", help="output folder [<output_dir>/<period>/kpis]")
    p.set_defaults(func=cmd_kpis)

    p = sub.add_parser("render", help="the quarterly run: every partner scorecard + network overview")
    _add_run_options(p)
    p.add_argument("--partners", help="only these partner ids, comma-separated")
    p.add_argument("--workers", type=int, help="parallel partner executions [CPU cores]")
    p.add_argument("--force", action="store_true", help="re-render reports that are up to date")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://HOST:8786) to run partners on a cluster")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("audit", help="check every value shown on the rendered pages against the exported tables")
    _add_run_options(p)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("send", help="email each partner its scorecard (dry run into the outbox by default)")
    _add_run_options(p)
    p.add_argument("--partners", help="only these partner ids, comma-separated")
    p.add_argument("--send", action="store_true", help="deliver through SMTP instead of writing the outbox")
    p.add_argument("--yes", action="store_true", help="confirm a real send (required with --send)")
    p.add_argument("--resend", action="store_true", help="re-send reports that changed since they were sent")
    p.add_argument("--retry-failed", dest="retry_failed", action="store_true",
                   help="try again the messages the server refused permanently (5xx) in an earlier send")
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("docs", help="regenerate the generated docs: data-model.md (schemas), exports.md "
                                    "(exported tables), the measure catalog in kpis.md")
    p.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "data-model.md"))
    p.add_argument("--exports-out", default=str(PROJECT_ROOT / "docs" / "exports.md"))
    p.set_defaults(func=cmd_docs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ChannelAnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
