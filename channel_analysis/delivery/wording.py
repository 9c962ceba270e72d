"""Every user-facing string of the scorecard email, in one place.

Each string goes through the translation hook ``_`` returned by :func:`translator`: the package's
gettext catalogs (:mod:`channel_analysis.i18n`) in the partner's language. Strings defined at
module level are marked with :func:`channel_analysis.i18n.N_` (a no-op marker for extraction) and
translated where used. Numbers are formatted for the partner's locale by the same functions as the
reports (:func:`channel_analysis.i18n.format_currency`, :func:`~channel_analysis.i18n.format_percent`).

:func:`compose` returns a :class:`Content`: the data both renderings (HTML and plain text) of
:mod:`.message` are made from, so the two never say different things.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Mapping

import pandas as pd

from .. import i18n, measures
from ..i18n import N_

Translate = Callable[[str], str]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text) -> str:
    """A data value (partner or contact name) as one line of text: control characters (CR, LF,
    NUL, ...) and runs of whitespace become one space; '' for anything that is not a string."""
    return " ".join(_CONTROL.sub(" ", text).split()) if isinstance(text, str) else ""


def translator(locale: str) -> Translate:
    """The translation hook for ``locale``: returns the string in the partner's language.

    The package's gettext catalogs (:func:`channel_analysis.i18n.translator`): the catalog of the
    partner's language, English message ids for a language without one.
    """
    return i18n.translator(locale).gettext


#: Target status (kpis.target_status) → words.
TARGET_STATUS: dict[str, str] = {
    "green": N_("met"),
    "amber": N_("nearly met"),
    "red": N_("not met"),
}


@dataclass(frozen=True)
class Headline:
    """One headline figure: label, the formatted value, a short note (may be empty), and which
    table cell the value is (``measure``, ``window``, the exact number ``raw``; the HTML carries
    them as data attributes, like the scorecard)."""

    label: str
    value: str
    note: str = ""
    measure: str | None = None
    window: str = "quarter"
    raw: float | None = None


@dataclass(frozen=True)
class Content:
    """What one email says, before it is rendered as HTML and as plain text."""

    language: str
    subject: str
    title: str
    partner_line: str
    greeting: str
    paragraphs: tuple[str, ...]
    headlines_title: str
    headlines: tuple[Headline, ...]
    closing: tuple[str, ...]
    footer: str


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def headline_figures(
    kpis: Mapping | None,
    targets: pd.DataFrame | None,
    *,
    locale: str,
    currency: str,
    _: Translate,
    fx_rate: float = 1.0,
) -> tuple[Headline, ...]:
    """Headline figures from one partner's KPI row and its target-attainment rows.

    The measures the catalog marks ``headline`` (:data:`channel_analysis.measures.HEADLINE`), with
    their catalog label and format — the same words and digits as the scorecard, amounts in the
    partner's ``currency`` at ``fx_rate`` reporting units per unit — each noted "few
    observations" when its ``<kpi>_low_sample`` flag is set; then one line per target metric with
    its attainment and status. Missing inputs give fewer lines, never an error.
    """
    lines: list[Headline] = []
    kpis = kpis or {}
    for column in measures.HEADLINE:
        value = _number(kpis.get(column))
        if value is None:
            continue
        m = measures.get(column)
        low = kpis.get(f"{column}_low_sample")
        note = _("few observations") if low is not None and not pd.isna(low) and bool(low) else ""
        shown = value / fx_rate if m.kind == "currency" else value  # the partner's currency, as on its page
        lines.append(Headline(_(m.label), i18n.format_value(shown, m.kind, locale, currency), note,
                              measure=column, raw=value))
    if targets is not None and not targets.empty:
        for row in targets.sort_values("metric").itertuples(index=False):
            value = _number(row.attainment)
            if value is None or row.metric not in measures.TARGET_ACTUALS:
                continue
            label = _("{metric} target").format(metric=_(measures.for_target(row.metric).label))
            status = TARGET_STATUS.get(str(getattr(row, "status", "")), "")
            lines.append(Headline(label, _("{percent} reached").format(percent=i18n.format_percent(value, locale)),
                                  _(status) if status else ""))
    return tuple(lines)


def compose(
    *,
    partner_name: str,
    contact_name: str | None,
    period: str,
    locale: str,
    currency: str,
    fx_rate: float = 1.0,
    account_manager: str | None = None,
    sender_name: str,
    kpis: Mapping | None = None,
    targets: pd.DataFrame | None = None,
    translate: Translate | None = None,
) -> Content:
    """The content of one partner's email to one contact, in the partner's ``locale``.

    ``partner_name`` and ``contact_name`` are data: they are inserted as text (escaping is the
    renderer's job). ``translate`` overrides the locale's hook (tests use it to prove every string
    goes through it).
    """
    _ = translate or translator(locale)
    language = i18n.pick_locale(locale)  # the partner's locale if known, else English
    partner_name = one_line(str(partner_name))  # data: one line, whatever it holds
    contact_name = one_line(contact_name)
    figures = headline_figures(kpis, targets, locale=language, currency=currency, _=_, fx_rate=fx_rate)
    greeting = _("Dear {name},").format(name=contact_name) if contact_name else _("Hello,")
    # the quarter in words, as on the scorecard ("Q3 2026", "T3 2026", "III kw. 2026")
    quarter = _("Q{quarter} {year}").format(quarter=str(period)[-1], year=str(period)[:4])
    paragraphs = [
        _("Your partner scorecard for {period} is attached to this email.").format(period=quarter),
        _("It is attached twice: as a PDF to open, print and forward, and as an HTML page that any web "
          "browser opens offline."),
    ]
    if figures:
        paragraphs.append(_("Here are the headline figures; the scorecard has the details, "
                            "your targets, your trends and how you compare with your peer group."))
    return Content(
        language=language,
        subject=_("{partner} — partner scorecard {period}").format(partner=partner_name, period=quarter),
        title=_("Partner scorecard {period}").format(period=quarter),
        partner_line=partner_name,
        greeting=greeting,
        paragraphs=tuple(paragraphs),
        headlines_title=_("Headline figures, {period}").format(period=quarter),
        headlines=figures,
        closing=(_("Questions about the figures? Just reply to this email."), _("Kind regards,"),
                 *([_("{name}, your channel account manager").format(name=one_line(account_manager))]
                   if account_manager else []), sender_name),
        footer=_("You receive this email because you are named as a scorecard contact of {partner}. "
                 "It contains {partner}'s own figures only.").format(partner=partner_name),
    )
