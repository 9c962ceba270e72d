"""Executed notebook → self-contained HTML with the project's nbconvert template.

Before export the notebook is reduced to what a reader should see (:func:`clean_for_html`): the
parameters cells, stderr (warnings name file paths), all notebook/cell metadata (papermill's
``input_path``/``output_path``/``parameters``, jupytext's, timings) and random cell ids go. After
export the HTML is checked for any external reference (:func:`external_references`): a report that
would fetch anything from the network is refused, never written.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path

import nbformat

from ..resources import package_folder

TEMPLATES_DIR = package_folder("templates")
TEMPLATE_NAME = "scorecard"
TEMPLATE_DIR = TEMPLATES_DIR / TEMPLATE_NAME

#: Tags of cells that are dropped from the HTML whole (input and output).
DROP_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell", "papermill-error-cell-tag"})

# src=/href= to http(s) or protocol-relative //host, CSS @import, url(http...) / url(//...).
_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|@import\b"""
    r"""|url\(\s*["']?\s*(?:https?:)?//""",
    re.IGNORECASE,
)


class ExternalResourceError(Exception):
    """The rendered HTML refers to something outside the file (a URL, @import)."""


def external_references(html: str) -> list[str]:
    """Snippets of ``html`` that reference anything outside the file (empty list: self-contained)."""
    return [html[max(m.start() - 20, 0): m.end() + 40].replace("\n", " ") for m in _EXTERNAL.finditer(html)]


def clean_for_html(nb: nbformat.NotebookNode, *, title: str, lang: str) -> nbformat.NotebookNode:
    """A copy of an executed notebook holding only what the HTML shows.

    Keeps cells' sources (hidden by the template), non-stderr outputs and image sizes, cell tags;
    sets the notebook metadata to ``title``, ``lang`` and the language name only; cell ids become
    ``c0, c1, …`` (deterministic HTML for identical inputs).
    """
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = list(cell.get("metadata", {}).get("tags", []))
        if DROP_TAGS.intersection(tags):
            continue
        cell.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
        cell.id = f"c{len(cells)}"
        if cell.cell_type == "code":
            cell.execution_count = None
            outputs = []
            for out in cell.get("outputs", []):
                if out.output_type == "stream" and out.get("name") == "stderr":
                    continue
                if "metadata" in out:
                    out.metadata = nbformat.NotebookNode(
                        {mime: {k: v for k, v in meta.items() if k in ("width", "height", "unconfined")}
                         for mime, meta in out.metadata.items()
                         if isinstance(meta, dict) and mime.startswith("image/")}
                    )
                out.pop("transient", None)
                outputs.append(out)
            cell.outputs = outputs
        cells.append(cell)
    nb.cells = cells
    nb.metadata = nbformat.NotebookNode(
        {"title": title, "lang": _html_lang(lang), "language_info": {"name": "python"}}
    )
    return nb


def _html_lang(locale: str | None) -> str:
    """BCP 47 language tag for ``<html lang>`` from a locale like ``fr_FR`` (``en`` when unknown)."""
    text = str(locale or "").strip().replace("_", "-")
    return text if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", text) else "en"


# <img> without an alt attribute (nbconvert's HTMLExporter gives those a default alt text).
_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\salt\s*=)", re.IGNORECASE)
_DEFAULT_ALT = "No description has been provided for this image"


def _report_exporter_class():
    """nbconvert's HTMLExporter without its BeautifulSoup pass (defined on first use: nbconvert is
    imported only by processes that export).

    After rendering the template, ``HTMLExporter.from_notebook_node`` parses the whole page with
    BeautifulSoup and serializes it again (about 60% of the export time of a report) only to give
    images without ``alt`` a default text and to make ``.jp-Notebook`` input/output wrappers
    focusable. Our template has no ``.jp-Notebook`` element and every report image carries its
    caption as ``alt`` (:func:`channel_analysis.blocks.figure`); the default alt is still added, by
    a regular expression. The markup is the template's own (attribute order and whitespace as
    rendered, not as BeautifulSoup re-serializes them); elements, attributes and text are the same.
    """
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportHTMLExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            # as HTMLExporter.from_notebook_node (nbconvert 7.17) up to the template rendering
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight_code = self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
            resources = self._init_resources(resources)
            filter_data_type = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self,
                                                     resources=resources)
            self.register_filter("highlight_code", highlight_code)
            self.register_filter("filter_data_type", filter_data_type)
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return _IMG_WITHOUT_ALT.sub(f'<img alt="{_DEFAULT_ALT}"', html), resources

    return ReportHTMLExporter


@lru_cache(maxsize=4)
def _exporter(template_dir: str):
    """An HTML exporter for the template folder (cached per process: it holds no report state).

    The notebook is validated once after the preprocessors (``optimistic_validation``), not after
    each of them; the page is not re-parsed after rendering (:func:`_report_exporter_class`).
    """
    path = Path(template_dir)
    return _report_exporter_class()(
        template_name=path.name,
        extra_template_basedirs=[str(path.parent)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        sanitize_html=False,
        optimistic_validation=True,
    )


def to_html(nb: nbformat.NotebookNode, *, title: str, lang: str = "en",
            template_dir: str | Path = TEMPLATE_DIR) -> str:
    """Self-contained HTML of an executed notebook (no input cells, no prompts, images inline).

    Raises :class:`ExternalResourceError` when the result would reference anything outside itself.
    """
    clean = clean_for_html(nb, title=title, lang=lang)
    body, _ = _exporter(str(template_dir)).from_notebook_node(clean, resources={})
    found = external_references(body)
    if found:
        raise ExternalResourceError(
            f"report would load {len(found)} external resource(s), e.g. …{found[0]}…; "
            "embed images and styles instead of linking them"
        )
    return body
