"""The scorecard as a print-quality PDF, made from its HTML offline.

WeasyPrint (a Python package on Pango and HarfBuzz, installed by the project itself, no browser)
lays the page out with the report's print CSS (A4, headings kept with what follows, tiles and figures
never split) and embeds the fonts it uses, subset. The HTML is self-contained (images as ``data:``
URIs), so nothing is fetched: a URL fetcher that reads ``data:`` URLs only makes sure of it.
"""

from __future__ import annotations

import weasyprint


def html_to_pdf(html: str) -> bytes:
    """The PDF of a self-contained report page (A4, fonts embedded). Only ``data:`` URLs are read;
    a reference to anything else fails the PDF rather than fetching it."""
    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
