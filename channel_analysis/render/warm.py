"""Imported once by the fork server of a render run: pay every import and warm-up here.

The server imports this module before forking any worker, so each forked worker starts with
pandas, matplotlib (inline backend), seaborn (and scipy), IPython, papermill, nbconvert (template compiled), Babel's
locale data and the report modules already loaded — and with no partner data, because the server
never reads any. Each worker renders one report and exits (``max_tasks_per_child=1``), so nothing
one partner's notebook does can reach the next one.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("agg")

import babel.dates  # noqa: E402,F401
import babel.lists  # noqa: E402,F401
import babel.numbers  # noqa: E402
import IPython.core.completer  # noqa: E402,F401
import IPython.core.magics  # noqa: E402,F401
import matplotlib.pyplot  # noqa: E402,F401  (the inline backend imports it)
import pyarrow.pandas_compat  # noqa: E402,F401  (unpickling frames)
import seaborn  # noqa: E402,F401  (the figures' look; imports scipy: about a second, paid once per run)
import jupytext  # noqa: E402,F401
import matplotlib_inline.backend_inline  # noqa: E402,F401
import nbformat  # noqa: E402
import pandas  # noqa: E402,F401
import papermill  # noqa: E402,F401
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402,F401
from matplotlib.figure import Figure  # noqa: E402

import channel_analysis.blocks  # noqa: E402,F401
import channel_analysis.bundle  # noqa: E402,F401
import channel_analysis.engine  # noqa: E402,F401
import channel_analysis.overview  # noqa: E402,F401
import channel_analysis.plots  # noqa: E402,F401
import channel_analysis.scorecard  # noqa: E402,F401

from .execute import read_notebook_text, render_partner  # noqa: E402,F401
from .export import TEMPLATE_DIR, _exporter  # noqa: E402
from .runner import OVERVIEW_NOTEBOOK, SCORECARD_NOTEBOOK  # noqa: E402

# First figure and first export load fonts and compile the template: do it once, here.
_fig = Figure(figsize=(1, 1))
_fig.add_subplot().plot([0, 1])
_fig.savefig(io.BytesIO(), format="png")
_exporter(str(TEMPLATE_DIR)).from_notebook_node(nbformat.v4.new_notebook(), resources={})
for _tag in ("en", "en_GB", "en_US", "fr_FR", "pl_PL", "de_DE"):
    babel.numbers.format_currency(1234.5, "EUR", locale=_tag)
for _notebook in (SCORECARD_NOTEBOOK, OVERVIEW_NOTEBOOK):  # parsed once, copied per report
    if _notebook.exists():
        read_notebook_text(_notebook.read_text(encoding="utf-8"))
