"""HTML export without nbconvert's BeautifulSoup pass (channel_analysis.render.export)."""

import base64

import nbformat
import pytest
from bs4 import BeautifulSoup

from channel_analysis.render.export import TEMPLATE_DIR, _exporter, clean_for_html, to_html

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


def _notebook():
    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_markdown_cell("# notes for readers", metadata={"tags": ["remove-cell"]}),
        v4.new_markdown_cell("Some *markdown* text & more"),
        v4.new_code_cell("report.header()", outputs=[v4.new_output(
            "execute_result", data={"text/html": '<header class="ca-header"><h1>Smith &amp; Sons</h1></header>',
                                    "text/plain": "Html(60 characters)"}, execution_count=1)]),
        v4.new_code_cell("report.figure()", outputs=[v4.new_output(
            "display_data", data={"text/html": f'<figure><img class="ca-img" src="data:image/png;base64,{PNG}" '
                                               'alt="Revenue per quarter"/><img src="data:image/png;base64,'
                                               f'{PNG}"></figure>'})]),
        v4.new_code_cell("plt.plot()", outputs=[
            v4.new_output("stream", name="stdout", text="printed\n"),
            v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]),
    ]
    return nb


def test_export_is_the_stock_exporter_page_without_its_reserialization():
    from nbconvert import HTMLExporter

    clean = clean_for_html(_notebook(), title="Scorecard — Smith & Sons", lang="fr_FR")
    ours = to_html(_notebook(), title="Scorecard — Smith & Sons", lang="fr_FR")
    stock = HTMLExporter(template_name=TEMPLATE_DIR.name, extra_template_basedirs=[str(TEMPLATE_DIR.parent)],
                         exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                         embed_images=True, sanitize_html=False)
    expected, _ = stock.from_notebook_node(clean, resources={})
    # the same elements, attributes and text: BeautifulSoup serializes ours exactly as the stock page
    assert str(BeautifulSoup(ours, features="html.parser")) == expected
    assert ours != expected  # ...but ours is the template's own markup, not re-serialized


def test_images_without_alt_get_the_default_alt_text():
    html = to_html(_notebook(), title="t")
    imgs = BeautifulSoup(html, features="html.parser").find_all("img")
    assert len(imgs) == 3
    assert [i["alt"] for i in imgs].count("No description has been provided for this image") == 2
    assert "Revenue per quarter" in [i["alt"] for i in imgs]


def test_exporter_validates_once_after_the_preprocessors():
    assert _exporter(str(TEMPLATE_DIR)).optimistic_validation is True
    with pytest.raises(nbformat.ValidationError):
        broken = _notebook()
        broken.cells[2].outputs[0].pop("data")  # an execute_result must have data
        _exporter(str(TEMPLATE_DIR)).from_notebook_node(broken, resources={})
