"""Languages and local formats of the reports: message catalogs and Babel/CLDR number, date formats.

Every user-facing string in the reports goes through gettext with a natural-English message id::

    tr = i18n.translator("fr_FR")
    _, ngettext = tr.gettext, tr.ngettext
    _("Revenue")                                      # "Chiffre d'affaires" once a catalog exists
    ngettext("{n} stale deal", "{n} stale deals", n).format(n=n)

Strings defined at import time are marked with :func:`N_` (no translation then) and translated when
shown. ``pybabel extract`` finds the names ``_``, ``ngettext`` and ``N_`` (``make messages`` extracts
them into ``channel_analysis/locale/messages.pot`` and updates every catalog; see ``docs/i18n.md``).

Catalogs are the ``.po`` files in ``channel_analysis/locale/<lang>/LC_MESSAGES/messages.po`` (English,
French, Polish; ``docs/i18n.md`` says how to add one). They are compiled in memory the first time a
process needs them (Babel ``read_po`` + ``write_mo``, cached per catalog), so no ``.mo`` file is
generated or committed and a catalog can never be stale. For a language without a catalog, and for
a message a catalog lacks, the English message id is shown (gettext's own fallback).

Numbers, percentages, money and dates are formatted by Babel for the locale (``1 234,50 €`` in
fr_FR, ``1 234,50 zł`` in pl_PL); a missing value (None, NaN, NaT) is shown as ``—``.
This module imports Babel only (matplotlib is imported by :func:`matplotlib_formatter` when called),
so the email and the report kernels stay light.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from .resources import package_folder

#: Folder of the catalogs: ``messages.pot`` and ``<lang>/LC_MESSAGES/messages.po``.
LOCALE_DIR = package_folder("locale")
DOMAIN = "messages"
#: The language of the message ids; the last fallback.
DEFAULT_LOCALE = "en"
#: Shown for a missing value.
MISSING = "—"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (translate it with ``_()`` when shown)."""
    return message


def _normalize(tag: str) -> str:
    return str(tag).strip().replace("-", "_")


def parse_locale(tag: Any) -> Locale | None:
    """The Babel locale named by ``tag`` ("fr", "fr_FR", "fr-FR", "pl_PL"), or None when empty/unknown."""
    if tag is None or (isinstance(tag, float) and math.isnan(tag)):
        return None
    text = _normalize(tag)
    if not text:
        return None
    try:
        return Locale.parse(text)
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def pick_locale(*candidates: Any) -> str:
    """The first candidate that names a known locale, as a string like "fr_FR"; else "en".

    The reports call it as ``pick_locale(partner["locale"], params["locale"]["fallback"])``: the
    partner's language, then the run's fallback, then English.
    """
    for tag in candidates:
        loc = parse_locale(tag)
        if loc is not None:
            return str(loc)
    return DEFAULT_LOCALE


@dataclass(frozen=True)
class Translator:
    """A gettext-like object for one locale: ``gettext``/``_``, ``ngettext``, ``pgettext``.

    ``locale`` is the resolved locale string ("fr_FR"); numbers and dates shown next to the
    translated text are formatted for the same locale (see the ``format_*`` functions).
    """

    locale: str
    translations: NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self.translations.pgettext(context, message)

    # the conventional short name
    _ = gettext

    @property
    def has_catalog(self) -> bool:
        """True when a catalog serves this translator (the locale's, the fallback's or English's)."""
        return isinstance(self.translations, Translations)


def catalog_path(language: str) -> Path:
    """Where the catalog of ``language`` ("fr", "pl", or a full locale like "pt_BR") is or would be."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def available_languages() -> list[str]:
    """The languages that have a catalog, sorted ("en", "fr", "pl")."""
    return sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


@functools.lru_cache(maxsize=None)
def _compiled(language: str) -> Translations | None:
    """The catalog of ``language`` compiled in memory from its ``.po`` (fuzzy entries left out), or
    None when there is no catalog. Cached for the life of the process."""
    path = catalog_path(language)
    if not path.is_file():
        return None
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


def _catalog_names(locale: str) -> list[str]:
    """Catalog folders that may serve ``locale``, most specific first: "fr_FR" → ["fr_FR", "fr"]."""
    loc = parse_locale(locale)
    if loc is None:
        return []
    return list(dict.fromkeys([str(loc), loc.language]))


@functools.lru_cache(maxsize=64)
def _load(locale: str, fallback: str) -> NullTranslations:
    """The catalog of the first of ``locale``, ``fallback``, English that has one (a NullTranslations,
    i.e. English message ids, when none has). Messages the chosen catalog lacks show in English;
    they never borrow another language's catalog."""
    for tag in dict.fromkeys([locale, fallback, DEFAULT_LOCALE]):
        for name in _catalog_names(tag):
            found = _compiled(name)
            if found is not None:
                return found
    return NullTranslations()


def text_language(locale: Any) -> str:
    """The language a page for ``locale`` is written in: the locale itself when a catalog serves its
    language, else English (the page then says ``lang="en"``, whatever its number formats)."""
    names = _catalog_names(locale) if locale else []
    return str(locale) if any(catalog_path(n).is_file() for n in names) else DEFAULT_LOCALE


def reload_catalogs() -> None:
    """Forget the compiled catalogs (after editing a ``.po`` in a running session)."""
    _compiled.cache_clear()
    _load.cache_clear()


def translator(locale: Any = DEFAULT_LOCALE, fallback: Any = DEFAULT_LOCALE) -> Translator:
    """The translator for ``locale`` (falling back to ``fallback``, then English message ids).

    An empty or unknown locale falls back too; the result's ``locale`` says which locale was used.
    """
    resolved = pick_locale(locale, fallback)
    return Translator(locale=resolved, translations=_load(resolved, pick_locale(fallback)))


# --------------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pandas' NA."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT, pd.NA (raises on pd.NA) are unequal to themselves
    except (TypeError, ValueError):
        return True


def _loc(locale: Any) -> Locale:
    return parse_locale(locale) or Locale.parse(DEFAULT_LOCALE)


def _with_digits(pattern, digits: int | None, *, trim: bool = False):
    """``pattern`` with exactly ``digits`` decimals (at most ``digits`` when ``trim``)."""
    if digits is None:
        return pattern
    p = copy.copy(pattern)
    p.frac_prec = (0 if trim else digits, digits)
    return p


def format_number(value: Any, locale: Any = DEFAULT_LOCALE, digits: int | None = None) -> str:
    """A number with the locale's separators ("1 234,5" in fr); ``digits`` fixes the decimals."""
    if is_missing(value):
        return MISSING
    loc = _loc(locale)
    return _with_digits(loc.decimal_formats[None], digits).apply(float(value), loc)


def format_percent(value: Any, locale: Any = DEFAULT_LOCALE, digits: int = 0, *,
                   trim: bool = False, signed: bool = False) -> str:
    """A fraction (0.125) as a percentage in the locale's style ("13 %" in fr, "13%" in en).

    ``digits`` decimals; with ``trim`` at most that many (0.123 → "12.3%", 0.5 → "50%" with
    ``digits=1``). ``signed`` puts the locale's plus sign before a gain ("+12.3%").
    """
    if is_missing(value):
        return MISSING
    loc = _loc(locale)
    v = float(value)
    if round(v * 100, digits) == 0:  # a change that rounds to nothing shows as 0, never "-0 %" or "+0 %"
        v = 0.0
    text = _with_digits(loc.percent_formats[None], digits, trim=trim).apply(v, loc)
    return babel_numbers.get_plus_sign_symbol(loc) + text if signed and v > 0 else text


def format_currency(value: Any, locale: Any = DEFAULT_LOCALE, currency: str = "EUR",
                    digits: int | None = None) -> str:
    """Money in the locale's style: fr_FR "1 234,50 €", pl_PL "1 234,50 zł", en "€1,234.50".

    ``digits`` fixes the decimals (default: the currency's own, 2 for EUR).
    """
    if is_missing(value):
        return MISSING
    loc = _loc(locale)
    pattern = loc.currency_formats["standard"]
    if digits is None:
        return pattern.apply(float(value), loc, currency=currency)
    return _with_digits(pattern, digits).apply(float(value), loc, currency=currency, currency_digits=False)


def format_compact_currency(value: Any, locale: Any = DEFAULT_LOCALE, currency: str = "EUR",
                            digits: int = 1) -> str:
    """Money in short form: fr "1,2 M €", pl "1,2 mln €", en "€1.2M"; below 1,000 the amount unrounded."""
    if is_missing(value):
        return MISSING
    if abs(float(value)) < 1000:
        return format_currency(value, locale, currency, digits=0)
    return babel_numbers.format_compact_currency(float(value), currency, locale=_loc(locale),
                                                 fraction_digits=digits)


def format_compact_number(value: Any, locale: Any = DEFAULT_LOCALE, digits: int = 1) -> str:
    """A number in short form: fr "1,2 M", en "1.2M", "12K"."""
    if is_missing(value):
        return MISSING
    return babel_numbers.format_compact_decimal(float(value), locale=_loc(locale), fraction_digits=digits)


def format_date(value: Any, locale: Any = DEFAULT_LOCALE, format: str = "medium") -> str:
    """A date in the locale's style ("5 oct. 2026" in fr, "Oct 5, 2026" in en)."""
    if is_missing(value):
        return MISSING
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = value.date()
    return babel_dates.format_date(value, format=format, locale=_loc(locale))


def format_month(value: Any, locale: Any = DEFAULT_LOCALE) -> str:
    """A month as short name and year ("oct. 2026", "Oct 2026")."""
    if is_missing(value):
        return MISSING
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return babel_dates.format_skeleton("yMMM", value, locale=_loc(locale))


def format_value(value: Any, kind: str, locale: Any = DEFAULT_LOCALE, currency: str = "EUR") -> str:
    """Format by kind: "currency", "compact_currency", "percent", "number", "integer", "decimal",
    "days", "score", "date". Unknown kinds format as a number."""
    if kind == "currency":
        return format_currency(value, locale, currency, digits=0)
    if kind == "compact_currency":
        return format_compact_currency(value, locale, currency)
    if kind == "percent":
        return format_percent(value, locale)
    if kind in ("integer", "count"):
        return format_number(value, locale, digits=0)
    if kind in ("decimal", "score", "ratio"):
        return format_number(value, locale, digits=1)
    if kind == "days":
        return format_number(value, locale, digits=0)
    if kind == "date":
        return format_date(value, locale)
    return format_number(value, locale)


def matplotlib_formatter(kind: str, locale: Any = DEFAULT_LOCALE, currency: str = "EUR"):
    """A matplotlib tick formatter for axes: "currency" (compact money), "percent" (axis in 0..1),
    "percentile" (axis in 0..1 shown as 0..100), "number" (compact), "integer", "month" (axis of
    matplotlib date numbers)."""
    from matplotlib.ticker import FuncFormatter

    if kind == "currency":
        return FuncFormatter(lambda x, _pos: format_compact_currency(x, locale, currency))
    if kind == "percent":
        return _percent_ticks(locale)
    if kind == "percentile":
        return FuncFormatter(lambda x, _pos: format_number(x * 100, locale, digits=0))
    if kind == "integer":
        return FuncFormatter(lambda x, _pos: format_number(x, locale, digits=0))
    if kind == "month":
        from matplotlib.dates import num2date

        return FuncFormatter(lambda x, _pos: format_month(num2date(x), locale))
    return FuncFormatter(lambda x, _pos: format_compact_number(x, locale))


def _percent_ticks(locale: Any):
    """Percent ticks with as many decimals as their spacing needs (98.5 %, 99.0 %, not 98 %, 99 %)."""
    import math

    from matplotlib.ticker import Formatter

    class PercentTicks(Formatter):
        digits = 0

        def set_locs(self, locs):
            super().set_locs(locs)
            steps = [b - a for a, b in zip(locs, locs[1:]) if b > a]
            step = min(steps) * 100 if steps else 1.0
            self.digits = min(2, max(0, math.ceil(-math.log10(step)))) if step > 0 else 0

        def __call__(self, x, pos=None):
            return format_percent(x, locale, self.digits)

    return PercentTicks()


def join_list(items: Iterable[str], locale: Any = DEFAULT_LOCALE) -> str:
    """Items joined the locale's way ("a, b and c", "a, b et c")."""
    from babel.lists import format_list

    items = list(items)
    return format_list(items, locale=_loc(locale)) if items else ""
