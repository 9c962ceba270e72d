"""docs/data-model.md is generated from the schemas and must not drift."""

from __future__ import annotations

from channel_analysis import datadoc
from channel_analysis.schema import TABLES


def test_committed_data_model_is_up_to_date():
    committed = datadoc.DEFAULT_PATH.read_text(encoding="utf-8")
    assert committed == datadoc.render(), "docs/data-model.md is stale: run `channel-analysis docs`"


def test_every_table_and_column_is_documented():
    text = datadoc.render()
    for name, (model, required) in TABLES.items():
        section = text[text.index(f"## `{name}`"):]
        assert section.splitlines()[2].startswith("**Required table.**" if required else "**Optional table.**")
        for column in model.to_schema().columns:
            assert f"| `{column}` |" in section, (name, column)


def test_column_rows_carry_type_requirement_example_and_kpis():
    text = datadoc.render()
    row = next(line for line in text.splitlines() if line.startswith("| `revenue` |"))
    assert row == ("| `revenue` | number | required | Net revenue of the line, in `currency`. | `1250.00` | "
                   "revenue, growth, share_of_wallet, forecast | ≥ 0 |")
    row = next(line for line in text.splitlines() if line.startswith("| `end_date` |"))
    assert "| date | optional |" in row


def test_optional_tables_list_the_kpis_they_enable():
    text = datadoc.render()
    assert "- `surveys`: csat, nps, csat_mean" in text


def test_write(tmp_path):
    path = datadoc.write(tmp_path / "docs" / "model.md")
    assert path.read_text(encoding="utf-8") == datadoc.render()
