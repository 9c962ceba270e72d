"""Reading and writing the raw input tables.

A *source* is one of

- a folder with one file per table, named after the table: ``partners.csv`` or
  ``partners.parquet`` (CSV: UTF-8, comma-separated, a header row, dates as ``YYYY-MM-DD``);
- a DuckDB database file (``*.duckdb``) with one table per input table;
- a SQLAlchemy URL (``sqlite:///exports.db``, ``postgresql://user@host/db``) with one table per
  input table.

Table names are those of :data:`channel_analysis.schema.TABLES`. ``params["data"]["tables"]`` may
map a table to another table name (or file name) in the source, or to a SQL query
(``SELECT ...``) run in the source (for a folder, the query runs in DuckDB over the folder's files,
each available as a view named after its file), or to a mapping (``from``, ``columns``, ``values``,
``dates``, ``constants``: :mod:`channel_analysis.io.mapping`) applied right after reading. In a
database, a table may be named with its schema, ``crm.partners``.

``since`` (see :func:`read_tables`) keeps only the rows of a table from a first date on: for a
database table the condition is part of the SQL query, so older rows never leave the server.

:func:`read_tables` returns *raw* frames: columns as found, ID columns (``*_id``) as strings (a CSV
is read entirely as text so leading zeros survive). Types, required columns and every other rule
are checked by :mod:`channel_analysis.validation`. Anything that prevents reading raises
:class:`~channel_analysis.errors.DataSourceError` naming the file or table and what to do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import pandas as pd

from ..errors import DataSourceError, ParamsError
from ..files import atomic_path, is_url
from ..schema import TABLES
from .mapping import TableMapping, parse_tables

FORMATS = ("parquet", "csv", "duckdb")
EXTENSIONS = (".parquet", ".csv")
DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
DEFAULT_DUCKDB_NAME = "channel.duckdb"

_SQL = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


# --- helpers -------------------------------------------------------------------------------------

def is_query(text: str) -> bool:
    """True if a ``data.tables`` entry is a SQL query rather than a table name."""
    return bool(_SQL.match(str(text)))


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable URL is reported by the caller
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _is_duckdb_file(path: Path) -> bool:
    if path.suffix.lower() == ".duckdb":
        return True
    if path.is_file() and path.suffix.lower() in DUCKDB_SUFFIXES:
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
        except OSError:
            return False
        return head[8:12] == b"DUCK"
    return False


def _id_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).endswith("_id")]


def ids_as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose ``*_id`` columns hold strings (integers without ``.0``).

    Leading zeros that a database or Parquet file already dropped by storing an id as a number
    cannot be recovered; a CSV is read as text, so they survive there.
    """
    out = frame
    for col in _id_columns(frame):
        s = frame[col]
        if pd.api.types.is_string_dtype(s):  # str dtype, or object holding only strings
            continue
        if pd.api.types.is_float_dtype(s.dtype):
            whole = s.dropna()
            if (whole == whole.round()).all():
                s = s.astype("Int64")
        if out is frame:
            out = frame.copy()
        out[col] = s.astype("str")
    return out


# --- writing -------------------------------------------------------------------------------------

def _to_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as YYYY-MM-DD (ISO) text, everything else as is."""
    out = frame
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            if out is frame:
                out = frame.copy()
            out[col] = s.dt.strftime("%Y-%m-%d")
    return out


def write_tables(tables: Mapping[str, pd.DataFrame], dest: str | Path, fmt: str = "parquet", *,
                 keep_other_format: bool = False) -> Path:
    """Write ``tables`` (name → frame) to ``dest``; returns the folder, file or URL written.

    - ``fmt="parquet"`` / ``"csv"``: one file per table, ``<dest>/<table>.parquet`` or
      ``<dest>/<table>.csv`` (UTF-8, comma-separated, header row, dates ``YYYY-MM-DD``). A file of
      the *other* format for the same table is removed, so an input folder holds one file per
      table — unless ``keep_other_format`` (output folders that offer both formats).
    - ``fmt="duckdb"``: ``dest`` is the database file (``dest/channel.duckdb`` when ``dest`` is a
      folder or has no ``.duckdb`` suffix); one table per frame, replaced if present.
    - ``dest`` a SQLAlchemy URL (any ``fmt``): one database table per frame, replaced if present; a
      name ``schema.table`` writes into that (existing) schema.

    Frames are written as they are (the index is dropped). Each file is written to a temporary
    name and renamed, so a reader never sees half a file.
    """
    if is_url(dest):
        return _write_sql(tables, str(dest))
    fmt = str(fmt).lower()
    if fmt not in FORMATS:
        raise DataSourceError(f"unknown output format {fmt!r}: use one of {', '.join(FORMATS)}")
    dest = Path(dest).expanduser()
    if fmt == "duckdb":
        return _write_duckdb(tables, dest)
    dest.mkdir(parents=True, exist_ok=True)
    ext = "." + fmt
    other = ".csv" if fmt == "parquet" else ".parquet"
    for name, frame in tables.items():
        with atomic_path(dest / f"{name}{ext}") as tmp:
            if fmt == "parquet":
                frame.to_parquet(tmp, index=False, engine="pyarrow")
            else:
                _to_csv_frame(frame).to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
        stale = dest / f"{name}{other}"
        if stale.exists() and not keep_other_format:
            stale.unlink()
    return dest


def _write_duckdb(tables: Mapping[str, pd.DataFrame], dest: Path) -> Path:
    import duckdb

    if dest.is_dir() or dest.suffix.lower() not in DUCKDB_SUFFIXES:
        dest = dest / DEFAULT_DUCKDB_NAME
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(dest))
    except duckdb.Error as exc:
        raise DataSourceError(f"cannot open DuckDB file {dest} for writing: {exc}") from None
    try:
        for name, frame in tables.items():
            con.register("_frame", frame)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _frame')
            con.unregister("_frame")
    finally:
        con.close()
    return dest


def _write_sql(tables: Mapping[str, pd.DataFrame], url: str) -> str:
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            for name, frame in tables.items():
                schema, table = _split_schema(name)
                frame.to_sql(table, conn, schema=schema, if_exists="replace", index=False, chunksize=50_000)
    except Exception as exc:  # noqa: BLE001 - any driver error: the database is the problem
        raise DataSourceError(f"cannot write tables to {_safe_url(url)}: {exc}") from None
    finally:
        engine.dispose()
    return url


def _engine(url: str):
    try:
        from sqlalchemy import create_engine

        return create_engine(url)
    except Exception as exc:  # noqa: BLE001 - bad URL, missing driver
        raise DataSourceError(
            f"cannot use database URL {_safe_url(url)}: {exc}. Check the URL "
            "(dialect://user@host/database) and that its driver is installed"
        ) from None


# --- reading -------------------------------------------------------------------------------------

def _split_schema(ref: str) -> tuple[str | None, str]:
    """``"crm.partners"`` → ``("crm", "partners")``; ``"partners"`` → ``(None, "partners")``."""
    parts = [part.strip().strip('"') for part in ref.strip().split(".", 1)]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _since_filter(frame: pd.DataFrame, column: str, first: pd.Timestamp) -> pd.DataFrame:
    """The rows of ``frame`` dated ``first`` or later, and those whose date is missing or not a
    date (validation reports them); the frame as is when it has no such column."""
    if column not in frame.columns:
        return frame
    when = pd.to_datetime(frame[column], errors="coerce", format="mixed")
    if getattr(when.dt, "tz", None) is not None:
        when = when.dt.tz_localize(None)
    keep = when.isna() | (when >= first)
    return frame if keep.all() else frame.loc[keep.to_numpy()]


def describe(source: str | Path) -> str:
    """A short human name of the source for messages (a URL without its password)."""
    return _safe_url(str(source)) if is_url(source) else str(source)


def _check_mapping(tables: Mapping | None) -> dict[str, TableMapping]:
    try:
        return parse_tables(tables)
    except ParamsError as exc:  # read_tables answers for the source: one error class to catch
        raise DataSourceError(str(exc)) from None


def read_tables(
    source: str | Path,
    tables: Mapping[str, str] | None = None,
    *,
    progress: bool = False,
    failures: dict[str, str] | None = None,
    since: Mapping[str, tuple[str, pd.Timestamp]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Raw frames (table name → DataFrame) of every input table found in ``source``.

    ``source`` is a folder of ``<table>.csv`` / ``<table>.parquet`` files, a ``.duckdb`` file or a
    SQLAlchemy URL. ``tables`` (``params["data"]["tables"]``) maps a table to the name (or file
    name) it has in the source, to a SQL query, or to a mapping (see
    :mod:`channel_analysis.io.mapping`), which is applied to the frame as read. Tables the source does not have are absent from
    the result (validation decides whether that is an error); a table *named* in ``tables`` that
    the source lacks is an error. ``progress`` shows a tqdm bar per table.

    Each frame has a 0..n-1 index and ``attrs`` ``{"table", "file", "first_row"}``: where it came
    from (for messages) and the 1-based row number in the file of its first row (2 for a CSV with
    its header line, otherwise 1). ID columns (``*_id``) are strings. A mapped table also has
    ``attrs["mapping_notes"]``: the :class:`~channel_analysis.io.mapping.Note` s of what its mapping
    left undone (values it does not list, dates that do not fit the format).

    ``failures``: when a dict is given, a table that cannot be read (bad encoding, wrong
    delimiter, corrupt file, failing query) is recorded there (table → message) and the other
    tables are still read; otherwise the first such problem raises.

    ``since`` maps a table to ``(date column, first date)``: only its rows dated from that day on
    are kept (and those whose date is missing or not a date, which validation reports). In a
    database table (a name, not a query, without a mapping that renames or reformats its columns)
    whose column has a date type, the condition is the query's ``WHERE``, so the older rows are
    never transferred; anything else (a text column, a query, a mapped table, a file, a DuckDB
    table) is filtered as read (a query may hold its own condition).
    """
    mapping = _check_mapping(tables)
    since = dict(since or {})
    if is_url(source):
        reader = _SqlReader(str(source))
    else:
        path = Path(source).expanduser()
        if _is_duckdb_file(path):
            if not path.exists():
                raise DataSourceError(
                    f"DuckDB file {path} not found: check data.source / --data (for the sample "
                    "data run `make sample`)"
                )
            reader = _DuckdbReader(path)
        elif path.is_dir():
            reader = _FolderReader(path)
        elif path.exists():
            raise DataSourceError(
                f"{path} is neither a folder of CSV/Parquet files, a .duckdb file nor a database "
                "URL: point data.source / --data at one of those"
            )
        else:
            raise DataSourceError(
                f"data source {path} not found: check data.source / --data (a folder of "
                "CSV/Parquet files, a .duckdb file or a SQLAlchemy URL; for the sample data run "
                "`make sample`)"
            )
    try:
        available = reader.available()
        refs = {name: m.source for name, m in mapping.items() if m.source is not None}
        # a file or table another table's mapping reads (partners: {from: accounts.csv}) is that
        # table's source only, never also the table of its own name (here: accounts)
        claimed = {reader.table_of(ref) for name, ref in refs.items() if not is_query(ref)} - set(refs)
        todo = [name for name in TABLES if name in refs or (name in available and name not in claimed)]
        for name, ref in refs.items():
            if not is_query(ref) and not reader.has(ref):
                raise DataSourceError(
                    f"data.tables.{name} = {ref!r}: no such table in "
                    f"{describe(source)}. It has: {', '.join(sorted(reader.names(ref))) or 'nothing'}"
                )
        out: dict[str, pd.DataFrame] = {}
        bar = _progress(todo, progress, describe(source))
        for name in bar:
            if progress:
                bar.set_postfix_str(name)
            try:
                mapped = name in mapping and mapping[name].transforms
                # a mapped table's date column may be named or formatted otherwise in the source:
                # its window is applied once mapped
                frame = reader.read(name, refs.get(name, name), None if mapped else since.get(name))
                attrs = dict(frame.attrs)
                frame = frame.reset_index(drop=True)
                if mapped:
                    frame, notes = mapping[name].apply(frame, file=attrs.get("file", name))
                    attrs["mapping_notes"] = notes
                if name in since and not attrs.pop("since_applied", False):
                    frame = _since_filter(frame, *since[name]).reset_index(drop=True)
            except DataSourceError as exc:
                if failures is None:
                    raise
                failures[name] = str(exc)
                continue
            frame = ids_as_strings(frame)
            frame.attrs = attrs
            frame.attrs.update({"table": name, "file": attrs.get("file", name)})
            frame.attrs.setdefault("first_row", 1)
            out[name] = frame
        return out
    finally:
        reader.close()


def _progress(items, enabled: bool, label: str):
    if not enabled:
        return _Plain(items)
    from tqdm.auto import tqdm

    return tqdm(items, desc=f"reading {Path(label).name or label}", unit="table", leave=False,
                disable=None)  # off when not a terminal


class _Plain(list):
    """A list standing in for a tqdm bar when progress is off."""

    def set_postfix_str(self, *_):  # pragma: no cover - never called when progress is off
        pass


class _FolderReader:
    """A folder of ``<table>.csv`` / ``<table>.parquet`` files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: dict[str, Path] = {}
        #: table → why its entry cannot be read (a dangling link, a folder named like a file)
        self.broken: dict[str, str] = {}
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in EXTENSIONS or path.name.startswith("."):
                continue
            if not path.is_file():
                if path.stem in TABLES:
                    self.broken[path.stem] = _not_a_file(path)
                continue
            if path.stem in self.files:
                raise DataSourceError(
                    f"{folder} has both {self.files[path.stem].name} and {path.name}: keep one "
                    f"file per table (remove the older one)"
                )
            self.files[path.stem] = path

    def names(self, ref: str = "") -> list[str]:
        return [p.name for p in self.files.values()]

    def available(self) -> set[str]:
        return set(self.files) | set(self.broken)

    def _file(self, ref: str) -> Path | None:
        ref = ref.strip()
        if ref in self.files:
            return self.files[ref]
        candidate = (self.folder / ref)
        if candidate.suffix.lower() in EXTENSIONS and candidate.is_file():
            return candidate
        return None

    def has(self, ref: str) -> bool:
        return self._file(ref) is not None

    def table_of(self, ref: str) -> str | None:
        """The table name (of :meth:`available`) the file ``ref`` would be read as by default."""
        path = self._file(ref)
        return path.stem if path is not None and path.parent == self.folder else None

    def read(self, name: str, ref: str, since=None) -> pd.DataFrame:
        if is_query(ref):
            return self._query(name, ref)
        path = self._file(ref)
        if path is None and ref.strip() in self.broken:
            raise DataSourceError(self.broken[ref.strip()])
        if path.suffix.lower() == ".parquet":
            frame = read_parquet(path)
        else:
            frame = read_csv(path)
        return frame

    def _query(self, name: str, sql: str) -> pd.DataFrame:
        import duckdb

        con = duckdb.connect()
        try:
            for stem, path in self.files.items():
                if path.suffix.lower() == ".parquet":
                    con.execute(f"CREATE VIEW \"{stem}\" AS SELECT * FROM read_parquet('{_sq(path)}')")
                else:
                    con.execute(
                        f"CREATE VIEW \"{stem}\" AS SELECT * FROM read_csv('{_sq(path)}', "
                        "header=true, all_varchar=true, delim=',')"
                    )
            frame = con.sql(sql).df()
        except duckdb.Error as exc:
            raise DataSourceError(
                f"data.tables.{name}: the query failed on the files in {self.folder}: {_first_line(exc)}. "
                "Views available: " + ", ".join(self.files)
            ) from None
        finally:
            con.close()
        frame.attrs["file"] = f"data.tables.{name} (query)"
        return frame

    def close(self) -> None:
        pass


def _not_a_file(path: Path) -> str:
    """Why a folder entry named like a table file cannot be read, and what to do."""
    if path.is_symlink() and not path.exists():
        return (f"{path} is a link to {path.readlink()}, which does not exist: restore the file "
                f"or remove the link (a table left out is reported as not available)")
    kind = "a folder" if path.is_dir() else "not a regular file"
    return (f"{path} is {kind}, not a {path.suffix.lstrip('.')} file: put the table's file there "
            f"or remove it (a table left out is reported as not available)")


def _sq(path: Path) -> str:
    return str(path).replace("'", "''")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as a DataFrame (pyarrow; fast for tens of millions of rows)."""
    import pyarrow.parquet as pq

    try:
        # self_destruct frees each Arrow column as soon as it is converted: the peak memory stays
        # near the size of the DataFrame instead of twice it (10M sales lines: ~0.9 GB less)
        table = pq.read_table(path)
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
    except Exception as exc:  # noqa: BLE001 - corrupt / truncated / not parquet
        raise DataSourceError(
            f"{path} cannot be read as Parquet ({_first_line(exc)}): re-export the table"
        ) from None
    frame.attrs["file"] = path.name
    return frame


def _check_csv_header(path: Path) -> None:
    """Refuse files that are not UTF-8 or not comma-separated, with a precise message."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError as exc:
        raise DataSourceError(
            f"{path} cannot be read: {exc.strerror or exc}. Check that the file exists and that "
            "the user running channel-analysis may read it"
        ) from None
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    try:
        header = first.decode("utf-8")
    except UnicodeDecodeError:
        raise DataSourceError(_encoding_message(path, 1)) from None
    if not header.strip():
        raise DataSourceError(f"{path} is empty or has no header row: the first line must name the columns")
    commas = header.count(",")
    for delim, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
        if header.count(delim) > commas:
            raise DataSourceError(
                f"{path} is separated by {label}, not commas (header: {header[:80]!r}). Export it "
                "as comma-separated CSV (UTF-8), or save it as Parquet"
            )


def _encoding_message(path: Path, line: int | None) -> str:
    where = f" (line {line:,})" if line else ""
    return (
        f"{path} is not UTF-8 text{where}. Save it as 'CSV UTF-8' (in Excel: Save as → "
        "CSV UTF-8), or convert it, e.g. `iconv -f WINDOWS-1252 -t UTF-8`"
    )


def _find_bad_utf8_line(path: Path) -> int | None:
    decoder_line = 1
    try:
        with open(path, "rb") as fh:
            for raw in fh:
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return decoder_line
                decoder_line += 1
    except OSError:
        return None
    return None


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV file (UTF-8, comma-separated, header row) with every column as text.

    Empty cells are missing values. Types are applied by validation, so ``007`` stays ``"007"``.
    """
    _check_csv_header(path)
    try:
        frame = pd.read_csv(
            path, dtype=str, engine="pyarrow", encoding="utf-8", keep_default_na=False,
            na_values=[""],
        )
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid for most problems
        text = _first_line(exc)
        if "utf8" in text.lower().replace("-", "") or isinstance(exc, UnicodeDecodeError):
            raise DataSourceError(_encoding_message(path, _find_bad_utf8_line(path))) from None
        raise DataSourceError(
            f"{path} is not a well-formed CSV file ({text}): every row must have as many "
            "comma-separated fields as the header; quote text containing commas"
        ) from None
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    frame.attrs["file"] = path.name
    frame.attrs["first_row"] = 2
    return frame


class _DuckdbReader:
    """A DuckDB database file, opened read-only."""

    def __init__(self, path: Path):
        import duckdb

        self.path = path
        try:
            self.con = duckdb.connect(str(path), read_only=True)
            rows = self.con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
        except duckdb.Error as exc:
            raise DataSourceError(
                f"{path} cannot be opened as a DuckDB database ({_first_line(exc)}): check the "
                "file (is another program writing it?)"
            ) from None
        self._names = {name for _, name in rows} | {f"{schema}.{name}" for schema, name in rows}

    def names(self, ref: str = "") -> list[str]:
        return sorted(n for n in self._names if "." not in n)

    def available(self) -> set[str]:
        return {n for n in self._names if n in TABLES}

    def has(self, ref: str) -> bool:
        return ref.strip().strip('"') in self._names

    def table_of(self, ref: str) -> str | None:
        """The table name (of :meth:`available`) ``ref`` would be read as by default."""
        name = ref.strip().strip('"')
        return name if "." not in name else None

    def read(self, name: str, ref: str, since=None) -> pd.DataFrame:
        import duckdb

        sql = ref if is_query(ref) else "SELECT * FROM " + ".".join(
            f'"{part}"' for part in ref.strip().strip('"').split(".")
        )
        try:
            frame = self.con.sql(sql).df()
        except duckdb.Error as exc:
            raise DataSourceError(
                f"{self.path}: reading table {name} failed ({_first_line(exc)}): check "
                f"data.tables.{name} or re-export the table"
            ) from None
        frame.attrs["file"] = f"{self.path.name}:{name}" if not is_query(ref) else f"data.tables.{name} (query)"
        return frame

    def close(self) -> None:
        self.con.close()


class _SqlReader:
    """Any database SQLAlchemy can reach; ``schema.table`` names a table in another schema."""

    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        try:
            from sqlalchemy import inspect

            self.inspector = inspect(self.engine)
            self._names = set(self.inspector.get_table_names()) | set(self.inspector.get_view_names())
        except Exception as exc:  # noqa: BLE001 - unreachable server, bad credentials, ...
            self.engine.dispose()
            raise DataSourceError(
                f"cannot connect to {_safe_url(url)} ({_first_line(exc)}): check the URL, the "
                "server and the credentials"
            ) from None

    def names(self, ref: str = "") -> list[str]:
        """The tables of the default schema, or (``ref`` naming a schema) of that schema."""
        schema, _ = _split_schema(ref)
        if schema is None:
            return sorted(self._names)
        try:
            return [f"{schema}.{t}" for t in sorted(self.inspector.get_table_names(schema=schema))]
        except Exception:  # noqa: BLE001 - no such schema
            return []

    def available(self) -> set[str]:
        return {n for n in self._names if n in TABLES}

    def has(self, ref: str) -> bool:
        schema, table = _split_schema(ref)
        if schema is None:
            return table in self._names
        try:
            return bool(self.inspector.has_table(table, schema=schema)) or \
                table in self.inspector.get_view_names(schema=schema)
        except Exception:  # noqa: BLE001 - no such schema (or no right to see it)
            return False

    def table_of(self, ref: str) -> str | None:
        """The table name (of :meth:`available`: the default schema's) ``ref`` would be read as."""
        schema, table = _split_schema(ref)
        return table if schema is None else None

    def read(self, name: str, ref: str, since: tuple[str, pd.Timestamp] | None = None) -> pd.DataFrame:
        from sqlalchemy import Date, DateTime, MetaData, Table, or_, select, text

        try:
            with self.engine.connect() as conn:
                if is_query(ref):
                    frame = pd.read_sql_query(text(ref), conn)
                else:
                    schema, table = _split_schema(ref)
                    t = Table(table, MetaData(), schema=schema, autoload_with=conn)
                    query = select(t)
                    dates = [c.name for c in t.c if isinstance(c.type, (Date, DateTime))]
                    # only a date column is compared in SQL: text (which may hold a date
                    # validation rejects) is filtered once read, keeping what is not a date
                    pushed = since is not None and since[0] in dates
                    if pushed:
                        col = t.c[since[0]]
                        query = query.where(or_(col >= since[1].to_pydatetime(), col.is_(None)))
                    frame = pd.read_sql_query(query, conn, parse_dates=dates)
                    frame.attrs["since_applied"] = pushed
        except Exception as exc:  # noqa: BLE001
            raise DataSourceError(
                f"{_safe_url(self.url)}: reading table {name} ({ref[:60]!r}) failed: "
                f"{_first_line(exc)}. Check data.tables.{name}"
            ) from None
        frame.attrs["file"] = name if not is_query(ref) else f"data.tables.{name} (query)"
        return frame

    def close(self) -> None:
        self.engine.dispose()
