# %% [markdown]
# Test fixture for tests/test_render.py: a tiny "network overview".

# %% tags=["parameters"]
period = "2026Q3"
bundle_path = "network.json"
locale = "en"

# %%
import json
from html import escape
from pathlib import Path

from IPython.display import HTML, display

bundle = json.loads(Path(bundle_path).read_text())
rows = "".join(f"<tr><td>{escape(p)}</td><td>{v}</td></tr>" for p, v in bundle["totals"].items())
display(HTML(f'<h1>Network {period}</h1><table class="ca-table"><tr><th>Partner</th><th>Revenue</th></tr>{rows}</table>'))
