"""The in-process papermill engine: a kernel's outputs, in the current (dedicated) process."""

import multiprocessing as mp

import jupytext
import nbformat
import pytest

NOTEBOOK = '''# %% tags=["parameters"]
partner_id = "default"

# %%
import matplotlib.pyplot as plt
from IPython.display import HTML, display
print("partner", partner_id)

# %%
display(HTML("<p class='x'>tile</p>"))
fig, ax = plt.subplots(figsize=(2, 1))
ax.plot([1, 2, 3]);

# %%
{"answer": 42}

# %%
get_ipython().history_manager.enabled

# %%
raise ValueError("bad data for " + partner_id)

# %%
print("never runs")
'''


def _execute(path, out_path, queue):
    """Run in a child process: the engine owns its process's shell."""
    import papermill as pm

    import channel_analysis.engine  # noqa: F401  (registers the engine)

    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    try:
        pm.execute_notebook(nb, str(out_path), parameters={"partner_id": "P042"},
                            engine_name="inprocess", progress_bar=False)
        queue.put(None)
    except Exception as exc:  # papermill raises after saving the failed notebook
        queue.put(type(exc).__name__ + ": " + str(exc)[-200:])


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("engine")
    src = tmp / "nb.py"
    src.write_text(NOTEBOOK, encoding="utf-8")
    out = tmp / "out.ipynb"
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_execute, args=(str(src), out, queue))
    proc.start()
    error = queue.get(timeout=120)
    proc.join(30)
    return nbformat.read(out, as_version=4), error


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_parameters_injected_and_stdout_captured(executed):
    nb, _ = executed
    cells = _code_cells(nb)
    assert "injected-parameters" in cells[1].metadata.tags
    assert cells[2].outputs[0].output_type == "stream"
    assert cells[2].outputs[0].text == "partner P042\n"


def test_display_html_and_inline_figure(executed):
    nb, _ = executed
    outputs = _code_cells(nb)[3].outputs
    kinds = [(o.output_type, sorted(o.get("data", {}))) for o in outputs]
    assert ("display_data", ["text/html", "text/plain"]) in kinds
    assert ("display_data", ["image/png", "text/plain"]) in kinds  # the figure, as a kernel shows it
    assert all(o.output_type != "execute_result" for o in outputs)  # the trailing ';' suppresses it


def test_last_expression_is_an_execute_result(executed):
    nb, _ = executed
    (out,) = _code_cells(nb)[4].outputs
    assert out.output_type == "execute_result"
    assert out.data["text/plain"] == "{'answer': 42}"


def test_no_history_database_links_one_notebook_to_the_next(executed):
    nb, _ = executed
    (out,) = _code_cells(nb)[5].outputs
    assert out.data["text/plain"] == "False"  # IPython's shared history.sqlite is never written


def test_error_stops_the_notebook_and_raises_like_papermill(executed):
    nb, error = executed
    cells = _code_cells(nb)
    failing = cells[6]
    assert failing.outputs[-1].output_type == "error"
    assert failing.outputs[-1].ename == "ValueError"
    assert failing.outputs[-1].evalue == "bad data for P042"
    assert cells[7].outputs == []  # not executed
    assert error.startswith("PapermillExecutionError") and "bad data for P042" in error


SLOW_NOTEBOOK = '''# %%
import time
time.sleep(30)
'''


def _execute_with_timeout(path, queue):
    import papermill as pm

    import channel_analysis.engine  # noqa: F401

    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    try:
        pm.execute_notebook(nb, None, engine_name="inprocess", progress_bar=False, execution_timeout=1)
        queue.put(None)
    except Exception as exc:
        queue.put(str(exc))


def test_a_notebook_past_its_time_limit_is_interrupted(tmp_path):
    src = tmp_path / "slow.py"
    src.write_text(SLOW_NOTEBOOK, encoding="utf-8")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_execute_with_timeout, args=(str(src), queue))
    proc.start()
    error = queue.get(timeout=60)  # well before the 30 s sleep would end
    proc.join(10)
    assert error is not None and "TimeoutError" in error and "render.timeout" in error
