"""Safe markup: escaped text, HTML pieces, and tagged values (the primitives pages and emails share).

:class:`Html` is markup that is already safe; :func:`esc` escapes text (and keeps an :class:`Html`
as it is); :func:`tagged` is a shown value that says which table cell it is (``data-measure``,
``data-window``, ``data-partner``, ``data-value``); :func:`fill` fills a translated sentence with
escaped text and tagged values. Light: the email imports it without any plotting library.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Mapping


class Html:
    """A piece of report markup; shows as HTML in a notebook and in the rendered report."""

    __slots__ = ("markup",)

    def __init__(self, markup: str = ""):
        self.markup = str(markup)

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return f"Html({len(self.markup)} characters)"

    def __add__(self, other: "Html | str") -> "Html":
        return Html(self.markup + str(other))

    def __contains__(self, text: str) -> bool:
        return text in self.markup

    @property
    def text(self) -> str:
        """The markup's text without tags (for attributes such as an image's alt text)."""
        return html.unescape(_TAG.sub("", self.markup))


_TAG = re.compile(r"<[^>]*>")


def esc(value: Any) -> str:
    """Text made safe for HTML (``&``, ``<``, ``>``, quotes escaped); an :class:`Html` block (already
    safe markup, e.g. a :func:`tagged` value) is kept as it is."""
    if isinstance(value, Html):
        return value.markup
    return html.escape("" if value is None else str(value), quote=True)


def tagged(text: str, measure: str, value: Any, window: str | None = None,
           partner: str | None = None, table: str | None = None, row: Mapping[str, str] | None = None) -> Html:
    """A formatted value that says which table cell it shows, for readers and for tests.

    ``<span class="ca-value" data-measure="win_rate" data-window="quarter" data-value="0.4166…">42%</span>``:
    ``measure`` is a measure-catalog key (a KPI-table column), ``window`` the KPI window
    (quarter | ytd | t4q; None for values without one), ``partner`` the partner id (network pages
    only; a partner's own page never names ids) and ``value`` the unformatted number (``repr`` of
    the float, so it round-trips exactly; empty when missing). Tests compare every tagged value with
    the exported tables. A value of another exported table than the KPI and network tables names
    it: ``table`` (e.g. ``mdf_incrementality``) and ``row``, the key columns of its row
    (``{"scope": "activity_type", "activity_type": "event"}``, written as JSON in ``data-row``);
    ``measure`` is then that row's column.
    """
    raw = _raw(value)
    attrs = f' data-measure="{esc(measure)}"'
    if window is not None:
        attrs += f' data-window="{esc(window)}"'
    if partner is not None:
        attrs += f' data-partner="{esc(partner)}"'
    if table is not None:
        attrs += f' data-table="{esc(table)}" data-row="{esc(json.dumps(dict(row or {}), sort_keys=True))}"'
    return Html(f'<span class="ca-value"{attrs} data-value="{esc(raw)}">{esc(text)}</span>')


def fill(template: str, **values: Any) -> Html:
    """A translated sentence with its placeholders filled: the template and text values are escaped,
    :class:`Html` values (e.g. :func:`tagged` numbers) are kept as markup."""
    return Html(esc(template).format(**{k: esc(v) for k, v in values.items()}))


def _raw(value: Any) -> str:
    """The exact number behind a shown value ('' when missing)."""
    if value is None or isinstance(value, str):
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if number != number else repr(number)
