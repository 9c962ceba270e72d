# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# Test fixture for tests/test_render.py: a tiny "scorecard" reading one JSON bundle.

# %% tags=["parameters"]
partner_id = "P000"
period = "2026Q3"
bundle_path = "bundle.json"
locale = "en"

# %%
import builtins
import json
import os
import sys
from pathlib import Path

from IPython.display import HTML, display

# Isolation probe: anything a previous partner's execution left behind would show up here.
left = []
if os.environ.get("CA_TEST_MARKER"):
    left.append("env=" + os.environ["CA_TEST_MARKER"])
if hasattr(json, "ca_test_marker"):
    left.append("module=" + json.ca_test_marker)
if hasattr(builtins, "ca_test_marker"):
    left.append("builtins=" + builtins.ca_test_marker)
if "CA_TEST_GLOBAL" in globals():
    left.append("global=" + CA_TEST_GLOBAL)
if Path("marker.txt").exists():
    left.append("cwd-file=" + Path("marker.txt").read_text())
print("isolation:", "LEAK " + " ".join(left) if left else "clean")
os.environ["CA_TEST_MARKER"] = partner_id
json.ca_test_marker = partner_id
builtins.ca_test_marker = partner_id
CA_TEST_GLOBAL = partner_id
Path("marker.txt").write_text(partner_id)
print("error to stderr", os.getcwd(), file=sys.stderr)

# %%
bundle = json.loads(Path(bundle_path).read_text())
# Crash probes (tests/test_render.py): the process running this notebook kills itself with SIGKILL,
# every time ("kill") or only the first time, when the marker file does not exist yet ("kill_once").
if bundle.get("kill") or (bundle.get("kill_once") and not Path(bundle["kill_once"]).exists()):
    import signal

    if bundle.get("kill_once"):
        Path(bundle["kill_once"]).write_text(partner_id)
    os.kill(os.getpid(), signal.SIGKILL)
if bundle.get("fail"):
    raise ValueError(f"bundle of {partner_id} asks this cell to fail")

# %%
display(HTML(
    f'<div class="ca-header"><h1>Scorecard {partner_id}</h1>'
    f'<div class="ca-meta"><span>{period}</span><span>{locale}</span></div></div>'
    '<div class="ca-tiles"><div class="ca-tile ca-green"><div class="ca-tile-label">Revenue</div>'
    f'<div class="ca-tile-value">{sum(bundle["revenue"])}</div></div></div>'
))
if bundle.get("external"):
    display(HTML('<img src="https://example.com/pixel.png">'))

# %%
# A figure without matplotlib (keeps the fixture's kernel fast): a 2x1 PNG built by hand,
# shown the way matplotlib's inline backend shows figures (an image/png display output).
import struct
import zlib

from IPython.display import Image


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0))
       + _chunk(b"IDAT", zlib.compress(b"\x00" + bytes([min(sum(bundle["revenue"]), 255), 0, 0, 0, 128, 0])))
       + _chunk(b"IEND", b""))
display(Image(data=png, format="png"))
