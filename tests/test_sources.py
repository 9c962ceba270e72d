"""Reading and writing sources: folders of CSV/Parquet, DuckDB files, SQLAlchemy URLs."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from channel_analysis import validation
from channel_analysis.errors import DataSourceError
from channel_analysis.io import sources
from channel_analysis.io.sources import read_tables, write_tables
from conftest import tiny_raw


def typed(raw, params):
    report = validation.validate_tables(raw, params)
    assert report.ok, report.format()
    return report.tables


# --- writing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_one_file_per_table(tmp_path, fmt):
    out = write_tables(tiny_raw(), tmp_path / "x", fmt)
    assert out == tmp_path / "x"
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.{fmt}" for name in tiny_raw())


def test_csv_is_utf8_comma_separated_with_iso_dates(tmp_path):
    frame = pd.DataFrame({"partner_id": ["007"], "name": ["Wisła"], "date": pd.to_datetime(["2026-08-14"])})
    write_tables({"t": frame}, tmp_path, "csv")
    assert (tmp_path / "t.csv").read_bytes().decode("utf-8") == "partner_id,name,date\n007,Wisła,2026-08-14\n"


def test_writing_one_format_removes_the_other_formats_file(tmp_path):
    write_tables({"sales": tiny_raw()["sales"]}, tmp_path, "csv")
    write_tables({"sales": tiny_raw()["sales"]}, tmp_path, "parquet")
    assert [p.name for p in tmp_path.iterdir()] == ["sales.parquet"]


def test_duckdb_into_a_folder_writes_channel_duckdb(tmp_path):
    out = write_tables(tiny_raw(), tmp_path, "duckdb")
    assert out == tmp_path / "channel.duckdb"
    assert set(read_tables(str(out))) == set(tiny_raw())


def test_duckdb_file_is_replaced_table_by_table(tmp_path):
    path = tmp_path / "x.duckdb"
    write_tables({"partners": tiny_raw()["partners"]}, path, "duckdb")
    write_tables({"partners": tiny_raw()["partners"].iloc[:1]}, path, "duckdb")
    assert len(read_tables(str(path))["partners"]) == 1


def test_unknown_format(tmp_path):
    with pytest.raises(DataSourceError, match="unknown output format 'xlsx'"):
        write_tables({}, tmp_path, "xlsx")


# --- round trips ---------------------------------------------------------------------------------

def _source(tmp_path, kind):
    raw = tiny_raw()
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'x.db'}"
        write_tables(raw, url)
        return url
    return str(write_tables(raw, tmp_path / kind, kind))


@pytest.mark.parametrize("kind", ["csv", "parquet", "duckdb", "sqlite"])
def test_round_trip_gives_the_same_frames(tmp_path, params, kind):
    expected = typed(tiny_raw(), params)
    got = typed(read_tables(_source(tmp_path, kind)), params)
    assert set(got) == set(expected)
    for name in expected:
        pd.testing.assert_frame_equal(got[name], expected[name], check_dtype=True, obj=name)


def test_round_trip_through_every_source_in_a_chain(tmp_path, params):
    """CSV → Parquet → DuckDB → SQLite → CSV: the typed frames never change."""
    frames = tiny_raw()
    expected = typed(frames, params)
    for i, kind in enumerate(["csv", "parquet", "duckdb", "sqlite", "csv"]):
        dest = f"sqlite:///{tmp_path / f'{i}.db'}" if kind == "sqlite" else tmp_path / f"{i}"
        frames = read_tables(str(write_tables(frames, dest, "duckdb" if kind == "duckdb" else kind)))
        got = typed(frames, params)
        for name in expected:
            pd.testing.assert_frame_equal(got[name], expected[name], obj=f"{kind}:{name}")


def test_ids_keep_leading_zeros_in_csv(tmp_path):
    write_tables({"partners": pd.DataFrame({"partner_id": ["007", "0100"], "sales_reps": [1, 2]})}, tmp_path, "csv")
    frame = read_tables(str(tmp_path))["partners"]
    assert frame["partner_id"].tolist() == ["007", "0100"]
    assert frame.attrs["file"] == "partners.csv" and frame.attrs["first_row"] == 2


def test_numeric_ids_from_a_database_become_text(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    write_tables({"partners": pd.DataFrame({"partner_id": [7, 12], "parent_id": [None, 7.0]})}, url)
    frame = read_tables(url)["partners"]
    assert frame["partner_id"].tolist() == ["7", "12"]
    assert frame["parent_id"].tolist()[1] == "7"  # not "7.0"


def test_files_that_are_not_tables_are_ignored(tmp_path):
    write_tables({"partners": tiny_raw()["partners"], "notes": pd.DataFrame({"a": [1]})}, tmp_path, "csv")
    assert list(read_tables(str(tmp_path))) == ["partners"]


# --- data.tables ---------------------------------------------------------------------------------

def test_tables_mapping_to_another_name(tmp_path):
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    write_tables({"invoice_lines": tiny_raw()["sales"]}, url)
    got = read_tables(url, {"sales": "invoice_lines"})
    assert list(got) == ["sales"] and len(got["sales"]) == 4


def test_a_file_another_table_reads_is_not_also_the_table_of_its_name(tmp_path):
    # a CRM export's accounts.csv holds the partners (data.tables.partners = accounts.csv): it is not
    # also read as the end-customer accounts table, whose columns it does not have
    write_tables({"accounts": tiny_raw()["partners"], "sales": tiny_raw()["sales"]}, tmp_path, "csv")
    got = read_tables(str(tmp_path), {"partners": "accounts.csv"})
    assert sorted(got) == ["partners", "sales"] and got["partners"].attrs["file"] == "accounts.csv"
    assert "accounts" in read_tables(str(tmp_path))  # unmapped, the file is the accounts table


def test_tables_mapping_to_a_query_in_a_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    write_tables({"invoice_lines": tiny_raw()["sales"]}, url)
    got = read_tables(url, {"sales": "SELECT * FROM invoice_lines WHERE partner_id = 'P002'"})
    assert got["sales"]["line_id"].tolist() == ["S2", "S3"]


def test_tables_mapping_to_a_query_over_a_folder(tmp_path):
    write_tables({"lines": tiny_raw()["sales"]}, tmp_path, "csv")
    got = read_tables(str(tmp_path), {"sales": "select * from lines where channel = 'sell_in'"})
    assert got["sales"]["line_id"].tolist() == ["S2", "S3"]


def test_tables_mapping_to_a_query_in_duckdb(tmp_path):
    path = write_tables({"lines": tiny_raw()["sales"]}, tmp_path / "x.duckdb", "duckdb")
    got = read_tables(str(path), {"sales": "SELECT * FROM lines ORDER BY line_id DESC LIMIT 1"})
    assert got["sales"]["line_id"].tolist() == ["S4"]


def test_unknown_table_name_in_mapping(tmp_path):
    write_tables({"partners": tiny_raw()["partners"]}, tmp_path, "csv")
    with pytest.raises(DataSourceError, match=r"unknown table\(s\) 'sale' \(did you mean 'sales'\?\)"):
        read_tables(str(tmp_path), {"sale": "x"})


def test_mapping_to_a_table_the_source_lacks(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    write_tables({"partners": tiny_raw()["partners"]}, url)
    with pytest.raises(DataSourceError, match=r"data.tables.sales = 'invoice_lines': no such table .* It has: partners"):
        read_tables(url, {"sales": "invoice_lines"})


def test_failing_query(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    write_tables({"partners": tiny_raw()["partners"]}, url)
    with pytest.raises(DataSourceError, match="reading table sales .* failed.*Check data.tables.sales"):
        read_tables(url, {"sales": "SELECT * FROM nowhere"})


# --- unreadable input ----------------------------------------------------------------------------

def test_missing_source(tmp_path):
    with pytest.raises(DataSourceError, match=r"data source .*nowhere not found: check data.source / --data"):
        read_tables(str(tmp_path / "nowhere"))


def test_missing_duckdb_file(tmp_path):
    with pytest.raises(DataSourceError, match="DuckDB file .*x.duckdb not found"):
        read_tables(str(tmp_path / "x.duckdb"))


def test_non_utf8_csv(tmp_path):
    (tmp_path / "partners.csv").write_bytes("partner_id,name\nP1,Müller\n".encode("cp1252"))
    with pytest.raises(DataSourceError, match=r"partners.csv is not UTF-8 text \(line 2\).*CSV UTF-8"):
        read_tables(str(tmp_path))


def test_semicolon_csv(tmp_path):
    (tmp_path / "sales.csv").write_text("line_id;date;revenue\nS1;2026-01-01;1,5\n", encoding="utf-8")
    with pytest.raises(DataSourceError, match="sales.csv is separated by semicolons, not commas"):
        read_tables(str(tmp_path))


def test_ragged_csv(tmp_path):
    (tmp_path / "sales.csv").write_text("line_id,date\nS1,2026-01-01,extra\n", encoding="utf-8")
    with pytest.raises(DataSourceError, match="sales.csv is not a well-formed CSV file"):
        read_tables(str(tmp_path))


def test_empty_csv(tmp_path):
    (tmp_path / "sales.csv").write_text("", encoding="utf-8")
    with pytest.raises(DataSourceError, match="sales.csv is empty or has no header row"):
        read_tables(str(tmp_path))


def test_csv_with_header_only_is_an_empty_table(tmp_path):
    (tmp_path / "surveys.csv").write_text("response_id,partner_id,date\n", encoding="utf-8")
    assert len(read_tables(str(tmp_path))["surveys"]) == 0


def test_utf8_bom_is_accepted(tmp_path):
    (tmp_path / "partners.csv").write_bytes("\ufeffpartner_id,name\nP1,Łódź\n".encode("utf-8"))
    frame = read_tables(str(tmp_path))["partners"]
    assert list(frame.columns) == ["partner_id", "name"] and frame["name"].iloc[0] == "Łódź"


def test_corrupt_parquet(tmp_path):
    (tmp_path / "sales.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataSourceError, match="sales.parquet cannot be read as Parquet"):
        read_tables(str(tmp_path))


def test_csv_and_parquet_of_one_table(tmp_path):
    write_tables({"sales": tiny_raw()["sales"]}, tmp_path / "a", "csv")
    write_tables({"sales": tiny_raw()["sales"]}, tmp_path / "b", "parquet")
    (tmp_path / "b" / "sales.parquet").rename(tmp_path / "a" / "sales.parquet")
    with pytest.raises(DataSourceError, match="has both sales.csv and sales.parquet"):
        read_tables(str(tmp_path / "a"))


def test_failures_are_collected_per_table(tmp_path):
    write_tables(tiny_raw(), tmp_path, "csv")
    (tmp_path / "sales.csv").write_text("line_id;date\n", encoding="utf-8")
    failures: dict[str, str] = {}
    got = read_tables(str(tmp_path), failures=failures)
    assert "sales" not in got and "partners" in got
    assert "semicolons" in failures["sales"]


def test_unreachable_database_hides_the_password():
    with pytest.raises(DataSourceError) as info:
        read_tables("postgresql://user:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(info.value)
    assert "127.0.0.1" in str(info.value)


def test_a_plain_file_is_not_a_source(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataSourceError, match="neither a folder of CSV/Parquet files"):
        read_tables(str(tmp_path / "x.txt"))


def test_is_query():
    assert sources.is_query("  select * from x") and sources.is_query("WITH a AS (SELECT 1) SELECT * FROM a")
    assert not sources.is_query("selected_sales")


# --- an optional table that cannot be read is reported, never dropped -----------------------------

def test_a_dangling_link_for_an_optional_table_is_a_failure(tmp_path, params):
    write_tables(tiny_raw(), tmp_path, "csv")
    (tmp_path / "surveys.csv").unlink()
    (tmp_path / "surveys.csv").symlink_to(tmp_path / "gone" / "surveys.csv")
    failures: dict[str, str] = {}
    got = read_tables(str(tmp_path), failures=failures)
    assert "surveys" not in got and "partners" in got
    assert "surveys.csv is a link to" in failures["surveys"] and "does not exist" in failures["surveys"]
    with pytest.raises(DataSourceError, match="surveys.csv is a link to .*gone.*remove the link"):
        read_tables(str(tmp_path))
    report = validation.validate_tables(got, params, read_errors=failures)
    assert not report.ok
    err = report.errors
    assert list(err["table"]) == ["surveys"] and "does not exist" in err["problem"].iloc[0]


def test_a_folder_named_like_a_table_file_is_a_failure(tmp_path, params):
    write_tables(tiny_raw(), tmp_path, "csv")
    (tmp_path / "surveys.csv").unlink()
    (tmp_path / "surveys.csv").mkdir()
    failures: dict[str, str] = {}
    read_tables(str(tmp_path), failures=failures)
    assert failures["surveys"].startswith(f"{tmp_path / 'surveys.csv'} is a folder, not a csv file")
    params["data"]["source"] = str(tmp_path)
    report = validation.validate_source(params, progress=False)
    # the terminal table wraps long texts between words (where depends on the path's length)
    assert not report.ok and "is a folder, not a csv file" in " ".join(report.format().split())


def test_an_unreadable_file_is_a_failure(tmp_path, monkeypatch):
    write_tables(tiny_raw(), tmp_path, "csv")
    (tmp_path / "surveys.csv").chmod(0)
    if os.access(tmp_path / "surveys.csv", os.R_OK):  # root reads anything: refuse it the same way
        real_open = open

        def refusing(path, *args, **kwargs):
            if str(path).endswith("surveys.csv"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(sources, "open", refusing, raising=False)
    failures: dict[str, str] = {}
    got = read_tables(str(tmp_path), failures=failures)
    assert "surveys" not in got and "partners" in got
    assert "surveys.csv cannot be read: Permission denied" in failures["surveys"]
    assert "may read it" in failures["surveys"]


def test_a_folder_named_like_a_file_of_no_table_is_ignored(tmp_path):
    write_tables(tiny_raw(), tmp_path, "csv")
    (tmp_path / "notes.csv").mkdir()
    failures: dict[str, str] = {}
    read_tables(str(tmp_path), failures=failures)
    assert failures == {}



# --- since: a table read from a first date on ----------------------------------------------------

FIRST = pd.Timestamp("2026-08-15")  # the tiny sales: S1 undated here, S2 2026-08-14, S3 08-20, S4 09-30


def _undated_first_line():
    sales = tiny_raw()["sales"]
    sales.loc[0, "date"] = None  # an undated line stays: validation reports it
    return sales


@pytest.mark.parametrize("kind", ["csv", "parquet", "duckdb", "sqlite"])
def test_since_keeps_the_rows_from_the_first_date_on_and_the_undated_ones(tmp_path, kind):
    sales = _undated_first_line()
    if kind in ("parquet", "duckdb"):  # dates typed, as such exports hold them
        sales["date"] = pd.to_datetime(sales["date"])
    if kind == "sqlite":
        source = f"sqlite:///{tmp_path / 'x.db'}"
        write_tables({"sales": sales}, source)
    else:
        source = str(write_tables({"sales": sales}, tmp_path / kind, kind))
    got = read_tables(source, since={"sales": ("date", FIRST)})["sales"]
    assert got["line_id"].tolist() == ["S1", "S3", "S4"]
    assert list(got.index) == [0, 1, 2]


def test_since_on_a_mapped_table_applies_to_the_model_column(tmp_path):
    """The source names the date otherwise and writes it day first: the window applies once mapped."""
    sales = _undated_first_line().rename(columns={"date": "invoice_date"})
    sales["invoice_date"] = pd.to_datetime(sales["invoice_date"]).dt.strftime("%d.%m.%Y")
    write_tables({"invoices": sales}, tmp_path, "csv")
    mapping = {"sales": {"from": "invoices.csv", "columns": {"invoice_date": "date"},
                         "dates": {"date": "%d.%m.%Y"}}}
    got = read_tables(str(tmp_path), mapping, since={"sales": ("date", FIRST)})["sales"]
    assert got["line_id"].tolist() == ["S1", "S3", "S4"]
