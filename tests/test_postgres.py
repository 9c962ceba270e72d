"""A real warehouse: the sample in a private PostgreSQL server (postgres_fixtures.py), in two
schemas, read through a SQLAlchemy URL with ``schema.table`` names and the history window in the
SQL; every frame equals the one read from Parquet (after the same window)."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from channel_analysis import sample, validation
from channel_analysis.dataset import load_dataset
from channel_analysis.errors import DataSourceError
from channel_analysis.io.sources import read_tables, write_tables
from channel_analysis.params import load_params
from postgres_fixtures import postgres_url  # noqa: F401 - the session fixture

pytestmark = pytest.mark.slow

#: The CRM's tables; every other table lives in the ERP's schema.
CRM = ("partners", "partner_contacts", "opportunities", "opportunity_stages", "leads", "accounts", "partner_ratings",
       "rebates", "benefits")  # (the PRM's tables too: the rest is the ERP's)


@pytest.fixture(scope="session")
def warehouse(postgres_url, tmp_path_factory):  # noqa: F811 - the fixture imported above
    """(URL, Parquet folder, data.tables): 30 partners, 12 quarters, in schemas crm and erp."""
    frames = sample.generate(partners=30, quarters=12, seed=5)
    folder = write_tables(frames, tmp_path_factory.mktemp("parquet"), "parquet")
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        for schema in ("crm", "erp"):
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    names = {name: f"{'crm' if name in CRM else 'erp'}.{name}" for name in frames}
    write_tables({names[name]: frame for name, frame in frames.items()}, postgres_url)
    tables = dict(names, partners={"from": "crm.partners"})  # a mapping with only `from:` too
    return postgres_url, folder, tables


def _params(source, tables=None, history_only=True):
    return load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 2,
                              "data": {"source": str(source), "tables": tables or {},
                                       "history_only": history_only}})


def _same_units(frame: pd.DataFrame) -> pd.DataFrame:
    dates = frame.select_dtypes("datetime").columns
    return frame.astype({c: "datetime64[ns]" for c in dates})


@pytest.fixture
def statements():
    """The SQL statements sent to any database while the test runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_nothing_but_the_default_schema_is_listed(warehouse):
    url, _, _ = warehouse
    assert read_tables(url) == {}  # every table is in crm or erp: found only when named


def test_schema_tables_with_the_window_in_the_sql_equal_the_parquet_frames(warehouse, statements):
    url, folder, tables = warehouse
    since = validation.read_since(_params(url, tables))
    column, first = since["sales"]
    assert (column, first) == ("date", pd.Timestamp("2024-07-01"))  # 2026Q3 − (2 − 1 + 7) quarters

    got = read_tables(url, tables, since=since)
    expected = read_tables(str(folder))
    sales = expected["sales"]
    assert sales["date"].min() < first  # the window does cut the sample's history
    expected["sales"] = sales[sales["date"] >= first].reset_index(drop=True)

    assert set(got) == set(expected)
    for name, frame in expected.items():
        assert got[name].attrs["table"] == name
        # raw frames: the same values; a database's types (datetime unit, text for categories) differ
        pd.testing.assert_frame_equal(_same_units(got[name]), _same_units(frame), check_dtype=False,
                                      check_categorical=False, obj=name)
    reads = [s for s in statements if "FROM erp.sales" in s]
    assert len(reads) == 1 and "WHERE erp.sales.date >= " in reads[0], reads


def test_validate_source_and_load_dataset_pass_and_match_parquet(warehouse):
    url, folder, tables = warehouse
    report = validation.validate_source(_params(url, tables), progress=False)
    assert report.ok, report.format()
    from_sql = load_dataset(_params(url, tables), progress=False)
    from_parquet = load_dataset(_params(folder), progress=False)
    assert from_sql.sales["date"].min() >= pd.Timestamp("2024-07-01")
    for name in validation.TABLES:
        a, b = getattr(from_sql, name), getattr(from_parquet, name)
        assert (a is None) == (b is None), name
        if a is not None:
            pd.testing.assert_frame_equal(a, b, obj=name)


def test_history_only_off_reads_every_line(warehouse):
    url, folder, tables = warehouse
    params = _params(url, tables, history_only=False)
    assert validation.read_since(params) == {}
    assert len(read_tables(url, tables)["sales"]) == len(read_tables(str(folder))["sales"])


def test_a_schema_table_the_warehouse_lacks_is_named(warehouse):
    url, _, tables = warehouse
    with pytest.raises(DataSourceError, match=r"data.tables.sales = 'erp.invoices': no such table .* "
                                              r"It has: erp.fx_rates, erp.mdf, .*erp.sales"):
        read_tables(url, dict(tables, sales="erp.invoices"))
