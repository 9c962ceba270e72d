"""The deterministic sample-data generator (``channel-analysis sample``).

:func:`generate` returns one frame per input table of :mod:`channel_analysis.schema`, realistic
enough that every chart and statistic means something:

- partner sizes are heavy-tailed (lognormal, distributors larger), so an 80/20 emerges;
- five partner types in seven regions with their countries, locales (English, French and Polish
  speakers well represented) and currencies (EUR, PLN, GBP, USD, SEK, CHF; ``fx_rates`` holds
  one row per non-EUR currency and quarter, reporting currency EUR);
- quarterly seasonality (Q4 strong), growing / declining / steady partners, partners onboarding
  during the window (some with no deal yet) and some churning (no sales after ``end_date``, their
  revenue fading in the half-year before it: :data:`CHURN_FADE_DAYS`);
- sales lines with repeat and new end customers, six product categories with different margins,
  uneven registration compliance (some partners ~95 %, some ~30 %) with a registration lag;
- registered deals with a consistent stage history, open deals at ``as_of`` (some past their
  expected close), leads with varying acceptance and conversion, targets some met and some
  missed, MDF over- and under-used, trainings with expiring certifications, surveys with very
  different numbers of responses, potential (share of wallet ~5 %..80 %), program costs around
  onboarding, and 1-3 contacts per partner (a few partners without a scorecard recipient);
- end-customer accounts (industry, head count, potential, recorded coverage) for the customers of
  the sales lines, drawn from their own random generator, plus six planted accounts whose segment
  moves are known exactly (:data:`PLANTED_ACCOUNTS`, :data:`PLANTED_MOVES`; their sales lines are
  the only lines added to the sales table);
- a few partners with tiny samples (1-3 deals) and one partner whose name looks like markup;
- a planted MDF experiment with a known effect (``MDF_PLANTED_LIFT``: "joint roadshow" lifts its
  partners' revenue by 30 % for two quarters, "webinar series" by nothing; comparison partners
  without MDF), drawn from its own random stream after every other table but the planted accounts (``_with_mdf_study``
  names the mdf and sales rows it changes), for :mod:`channel_analysis.incrementality`.

Same arguments, same frames. Everything is vectorized numpy except small per-partner loops
(names, contacts). :func:`write` stores the tables atomically and marks the folder complete.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import periods
from .errors import DataSourceError, ParamsError
from .io.sources import write_tables
from .schema import TABLES

#: Sales lines per partner-quarter when ``lines`` is not given (200 partners x 8 quarters ≈ 240k).
LINES_PER_PARTNER_QUARTER = 150
#: Open deal stages, earliest first (the ``pipeline.stages`` default of params/defaults.yaml).
STAGES = ("Qualify", "Develop", "Propose", "Negotiate")
#: Name of the partner whose name looks like markup (reports must show it as text).
MARKUP_NAME = 'Smith & Sons <Pro> "Direct"'
REPORTING_CURRENCY = "EUR"
COMPLETE_MARKER = ".complete"

_EPOCH = np.datetime64("1970-01-01", "D")
_SEASON = {1: 0.88, 2: 1.0, 3: 0.92, 4: 1.28}  # calendar quarter -> demand factor

# --- reference data ------------------------------------------------------------------------------

TYPES = ["distributor", "reseller", "dealer", "franchise", "integrator"]
_TYPE_P = [0.10, 0.40, 0.20, 0.12, 0.18]
_TYPE_SIZE = np.array([3.0, 1.0, 0.8, 0.7, 1.3])
_TYPE_DISCOUNT = np.array([0.30, 0.15, 0.12, 0.10, 0.18])
_TYPE_QTY = np.array([3.0, 1.0, 1.0, 0.9, 1.5])
_TYPE_CYCLE = np.array([35.0, 50.0, 40.0, 45.0, 85.0])  # median days created -> closed

# region -> [(country, share, [(locale, share)], currency, name style)]
REGIONS: dict[str, list] = {
    "DACH": [("DE", 0.70, [("de_DE", 1.0)], "EUR", "de"),
             ("AT", 0.18, [("de_AT", 1.0)], "EUR", "de"),
             ("CH", 0.12, [("de_CH", 0.75), ("fr_CH", 0.25)], "CHF", "de")],
    "France & Benelux": [("FR", 0.60, [("fr_FR", 1.0)], "EUR", "fr"),
                         ("BE", 0.20, [("fr_BE", 0.6), ("nl_BE", 0.4)], "EUR", "fr"),
                         ("NL", 0.15, [("nl_NL", 1.0)], "EUR", "nl"),
                         ("LU", 0.05, [("fr_LU", 1.0)], "EUR", "fr")],
    "Poland & CEE": [("PL", 0.72, [("pl_PL", 1.0)], "PLN", "pl"),
                     ("CZ", 0.18, [("cs_CZ", 1.0)], "EUR", "cs"),
                     ("SK", 0.10, [("sk_SK", 1.0)], "EUR", "cs")],
    "UK & Ireland": [("GB", 0.85, [("en_GB", 1.0)], "GBP", "en"),
                     ("IE", 0.15, [("en_IE", 1.0)], "EUR", "ie")],
    "Nordics": [("SE", 0.55, [("sv_SE", 1.0)], "SEK", "sv"),
                ("FI", 0.25, [("fi_FI", 1.0)], "EUR", "fi"),
                ("DK", 0.20, [("da_DK", 1.0)], "EUR", "da")],
    "Iberia": [("ES", 0.75, [("es_ES", 1.0)], "EUR", "es"),
               ("PT", 0.25, [("pt_PT", 1.0)], "EUR", "pt")],
    "North America": [("US", 1.0, [("en_US", 1.0)], "USD", "us")],
}
_REGION_P = [0.20, 0.20, 0.18, 0.18, 0.08, 0.09, 0.07]

# EUR per unit of currency at the start of the history (a random walk from there).
_FX_BASE = {"PLN": 0.232, "GBP": 1.17, "USD": 0.92, "SEK": 0.088, "CHF": 1.04}
CURRENCIES = ["EUR", *_FX_BASE]

# category, median list price (EUR), gross margin, mean extra units per line, base mix share
CATEGORIES = [
    ("Controllers", 420.0, 0.34, 1.5, 0.25),
    ("Drives", 1350.0, 0.24, 0.8, 0.12),
    ("Sensors", 85.0, 0.46, 5.0, 0.22),
    ("HMI Panels", 760.0, 0.31, 0.6, 0.10),
    ("Software", 540.0, 0.78, 3.0, 0.11),
    ("Accessories", 28.0, 0.55, 8.0, 0.20),
]
_SKUS_PER_CATEGORY = 8

COURSES = [  # name, grants certification, validity in days (None: no expiry), weight
    ("Partner Onboarding", False, None, 0.20),
    ("Controllers Sales Professional", True, 730, 0.22),
    ("Drives Technical Specialist", True, 730, 0.14),
    ("Sensors Fundamentals", False, None, 0.16),
    ("Software Licensing Essentials", False, None, 0.13),
    ("Solution Architect", True, 1095, 0.08),
    ("HMI Commissioning Expert", True, 730, 0.07),
]
MDF_ACTIVITIES = ["event", "digital campaign", "demo equipment", "trade show", "co-op advertising",
                  "training"]
#: MDF incrementality planted in the sample (tests recover it with channel_analysis.incrementality):
#: activity type → relative revenue lift during the post window of a partner's first MDF quarter
#: (0.30: its sales lines of those quarters carry 30 % more revenue and cost; 0.0: no effect at all).
#: These types appear only on the study partners below, never in the random MDF rows.
MDF_PLANTED_LIFT = {"joint roadshow": 0.30, "webinar series": 0.0}
#: Quarters without MDF before the event and quarters the lift lasts (the event quarter included);
#: equal to the ``mdf.incrementality`` defaults of params/defaults.yaml.
MDF_STUDY_PRE, MDF_STUDY_POST = 2, 2
#: Share of the eligible partners (not tiny, not new, onboarded 150+ days before the history and
#: active to as_of) given each planted type, and kept without any MDF as comparison partners.
MDF_STUDY_SHARE, MDF_STUDY_CONTROL_SHARE = 0.2, 0.25
#: Second seed word of the study's own random stream (the other tables never see it).
_MDF_STUDY_STREAM = 15_04
ROLES = ["sales manager", "marketing", "operations", "finance", "technical lead"]
OWNER_ROLES = ["owner", "managing director", "channel manager"]

_W = lambda text: text.split("|")  # noqa: E731 - compact word lists

NAME_STYLES: dict[str, dict] = {
    "de": dict(
        first=_W("Anna|Lukas|Julia|Jonas|Katrin|Stefan|Sabine|Thomas|Monika|Felix|Laura|Tobias|Claudia|"
                 "Markus|Jana|Florian|Heike|Matthias|Ute|Jan"),
        last=_W("Schmidt|Müller|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Hoffmann|Schulz|Koch|Richter|"
                "Klein|Wolf|Neumann|Schwarz|Braun|Zimmermann|Krüger|Hartmann|Lange|Werner|Krause|"
                "Lehmann|Köhler|Huber|Bauer|Lindner|Vogel|Brandt"),
        stem=_W("Nordlicht|Rheinwerk|Alpentech|Elbtal|Isartec|Donauwerk|Bodensee|Schwarzwald|Spreetec|"
                "Mainfeld|Harzberg|Weserland|Allgäu|Moselblick|Ostwind|Südhang|Eifel|Taunus"),
        trade=_W("Elektrotechnik|Automation|Antriebstechnik|Systemhaus|Industrietechnik|"
                 "Steuerungstechnik|Elektro|Messtechnik"),
        legal=_W("GmbH|GmbH|AG|GmbH & Co. KG"),
        patterns=["{last} {trade} {legal}", "{stem} {trade} {legal}", "{last} & {last2} {legal}",
                  "{stem} {legal}"],
    ),
    "fr": dict(
        first=_W("Camille|Julien|Sophie|Nicolas|Élodie|Thomas|Claire|Antoine|Manon|Pierre|Chloé|"
                 "Mathieu|Léa|François|Isabelle|Hugo|Margaux|Olivier"),
        last=_W("Martin|Bernard|Dubois|Durand|Lefebvre|Moreau|Laurent|Simon|Michel|Garnier|Rousseau|"
                "Fontaine|Chevalier|Lambert|Girard|Bonnet|Mercier|Faure|Blanc|Guérin|Lemaire|Renard|"
                "Picard|Dupont|Caron|Perrin|Marchand|Leroy|Roux|Gauthier"),
        stem=_W("Armor|Provence|Lumière|Horizon|Atlantique|Alpes|Loire|Val de Seine|Occitanie|"
                "Normandie|Azur|Rhône|Vosges|Ardennes|Flandres|Meuse|Sologne|Gascogne"),
        trade=_W("Automatismes|Électricité|Distribution|Industrie|Énergie|Services Industriels|"
                 "Contrôle|Équipements"),
        legal=_W("SAS|SARL|SA"),
        patterns=["{last} {trade} {legal}", "{stem} {trade} {legal}", "Groupe {last} {legal}",
                  "Établissements {last} {legal}", "{last} & Fils {legal}", "{last} & {last2} {legal}"],
    ),
    "nl": dict(
        first=_W("Daan|Sanne|Bram|Lotte|Pieter|Eva|Joris|Femke|Ruben|Anouk|Thijs|Lieke|Wouter|Noor"),
        last=_W("de Jong|Jansen|de Vries|van den Berg|van Dijk|Bakker|Visser|Smit|Meijer|de Boer|"
                "Mulder|de Groot|Bos|Vos|Peters|Hendriks|Dekker|Willems|Janssens|Maes"),
        stem=_W("Polder|Zeeland|Kempen|Delta|Schelde|Veluwe|Brabant|Wadden|Lage Landen|IJssel|Maasdal"),
        trade=_W("Techniek|Automatisering|Elektro|Installaties|Aandrijftechniek|Industrieservice"),
        legal=_W("B.V.|B.V.|N.V."),
        patterns=["{last} {trade} {legal}", "{stem} {trade} {legal}", "{last} & Zonen {legal}"],
    ),
    "pl": dict(
        first=_W("Anna|Piotr|Katarzyna|Tomasz|Magdalena|Paweł|Agnieszka|Michał|Joanna|Łukasz|Ewa|"
                 "Krzysztof|Monika|Marcin|Aleksandra|Jakub|Zofia|Grzegorz"),
        last=_W("Nowak|Kowalski|Wiśniewski|Wójcik|Kowalczyk|Kamiński|Lewandowski|Zieliński|"
                "Szymański|Woźniak|Dąbrowski|Kozłowski|Jankowski|Mazur|Kwiatkowski|Krawczyk|"
                "Piotrowski|Grabowski|Pawłowski|Michalski|Zając|Król|Wieczorek|Jabłoński"),
        stem=_W("Mazowsze|Wisła|Bałtyk|Tatry|Warta|Odra|Karpaty|Pomorze|Śląsk|Kujawy|Podhale|Mazury|"
                "Roztocze|Bieszczady"),
        trade=_W("Elektro|Automatyka|Technika|Napędy|Systemy|Instalacje"),
        legal=_W("Sp. z o.o.|Sp. z o.o.|S.A.|Sp. j."),
        patterns=["{stem} {trade} {legal}", "{last} {trade} {legal}", "{last} i Wspólnicy {legal}",
                  "P.H.U. {last} {legal}"],
    ),
    "cs": dict(
        first=_W("Jan|Petra|Tomáš|Lucie|Martin|Veronika|Jakub|Tereza|Lukáš|Eva|Ondřej|Kateřina"),
        last=_W("Novák|Svoboda|Novotný|Dvořák|Černý|Procházka|Kučera|Veselý|Horák|Němec|Marek|Pokorný"),
        stem=_W("Vltava|Morava|Šumava|Krkonoše|Beskydy|Labe|Dunaj|Jeseník|Tatra"),
        trade=_W("Elektro|Automatizace|Technika|Pohony|Systémy"),
        legal=_W("s.r.o.|s.r.o.|a.s."),
        patterns=["{stem} {trade} {legal}", "{last} {trade} {legal}", "{last} a syn {legal}",
                  "{last} & {last2} {legal}"],
    ),
    "en": dict(
        first=_W("Oliver|Emma|James|Sophie|Harry|Charlotte|George|Amelia|Jack|Olivia|William|Grace|"
                 "Thomas|Emily|Daniel|Lucy|Samuel|Hannah"),
        last=_W("Jones|Taylor|Brown|Williams|Wilson|Johnson|Davies|Robinson|Wright|Thompson|Evans|"
                "Walker|White|Roberts|Green|Hall|Wood|Jackson|Clarke|Hughes|Edwards|Turner|Parker|"
                "Cooper|Morris|Ward"),
        stem=_W("Pennine|Thames Valley|Cotswold|Northern|Highland|Severn|Mersey|Solent|Chiltern|"
                "Wessex|Anglia|Tyneside|Humber|Cumbria|Kentish|Midland"),
        trade=_W("Electrical|Controls|Automation|Drives|Engineering|Industrial Supplies|Systems|"
                 "Technical Services"),
        legal=_W("Ltd|Ltd|Ltd|plc"),
        patterns=["{last} & Sons {legal}", "{stem} {trade} {legal}", "{last} {trade} {legal}",
                  "{last} & {last2} {legal}"],
    ),
    "ie": dict(
        first=_W("Seán|Aoife|Conor|Niamh|Ciarán|Siobhán|Patrick|Róisín|Liam|Orla"),
        last=_W("Murphy|Kelly|O'Brien|Byrne|Ryan|Walsh|O'Sullivan|McCarthy|Doyle|Gallagher|Kennedy|Lynch"),
        stem=_W("Shannon|Liffey|Atlantic|Connacht|Munster|Leinster|Wicklow|Burren"),
        trade=_W("Electrical|Controls|Automation|Engineering|Industrial Supplies"),
        legal=_W("Ltd|Ltd|DAC"),
        patterns=["{last} {trade} {legal}", "{stem} {trade} {legal}", "{last} & {last2} {legal}"],
    ),
    "us": dict(
        first=_W("Michael|Jennifer|David|Jessica|Robert|Ashley|Christopher|Sarah|Matthew|Amanda|Ryan|Megan"),
        last=_W("Miller|Davis|Garcia|Anderson|Thomas|Moore|Martinez|Harris|Clark|Lewis|Young|Allen|"
                "King|Scott|Baker|Nelson"),
        stem=_W("Great Lakes|Lone Star|Bay Area|Midwest|Keystone|Granite State|Pacific|Gulf Coast|"
                "Rocky Mountain|Tri-State|Hudson Valley|Empire|Prairie|Cascade"),
        trade=_W("Controls|Automation|Industrial Supply|Electric|Motion Systems|Engineering"),
        legal=_W("Inc.|LLC|Corp."),
        patterns=["{stem} {trade} {legal}", "{last} {trade} {legal}", "{last} & {last2} {legal}"],
    ),
    "sv": dict(
        first=_W("Erik|Anna|Lars|Karin|Johan|Maria|Anders|Sara|Nils|Elin|Oskar|Ebba"),
        last=_W("Andersson|Johansson|Karlsson|Nilsson|Eriksson|Larsson|Olsson|Persson|Svensson|"
                "Gustafsson|Lindqvist|Bergström|Lundgren|Holm"),
        stem=_W("Norrland|Skåne|Vänern|Göta|Mälardalen|Fjäll|Öresund|Dalarna|Vättern|Roslagen"),
        trade=_W("Teknik|Automation|Elektro|Drivteknik|Industriservice"),
        legal=_W("AB"),
        patterns=["{last}s {trade} {legal}", "{stem} {trade} {legal}", "{last} & {last2} {legal}"],
    ),
    "fi": dict(
        first=_W("Mikko|Anna|Juha|Laura|Jukka|Sanna|Timo|Heidi|Antti|Johanna"),
        last=_W("Korhonen|Virtanen|Mäkinen|Nieminen|Mäkelä|Hämäläinen|Laine|Heikkinen|Koskinen|"
                "Järvinen|Lehtonen|Saarinen"),
        stem=_W("Saimaa|Lappi|Pohjola|Karjala|Häme|Savo|Kainuu|Päijänne"),
        trade=_W("Sähkö|Automaatio|Tekniikka|Konepalvelu"),
        legal=_W("Oy"),
        patterns=["{last} {trade} {legal}", "{stem} {trade} {legal}", "{last} & {last2} {legal}"],
    ),
    "da": dict(
        first=_W("Mads|Sofie|Frederik|Ida|Rasmus|Mette|Søren|Line|Mikkel|Camilla"),
        last=_W("Jensen|Nielsen|Hansen|Pedersen|Andersen|Christensen|Larsen|Sørensen|Rasmussen|Poulsen"),
        stem=_W("Jylland|Fyn|Sjælland|Limfjord|Bornholm|Kattegat|Himmerland"),
        trade=_W("Elektro|Automatik|Teknik|Service"),
        legal=_W("A/S|ApS"),
        patterns=["{last} {trade} {legal}", "{stem} {trade} {legal}", "{last} & {last2} {legal}"],
    ),
    "es": dict(
        first=_W("María|Javier|Lucía|Carlos|Carmen|David|Laura|Alejandro|Marta|Pablo|Elena|Sergio"),
        last=_W("García|Fernández|González|Rodríguez|López|Martínez|Sánchez|Pérez|Gómez|Jiménez|"
                "Ruiz|Hernández|Díaz|Moreno|Álvarez|Romero|Navarro|Torres|Domínguez|Vázquez"),
        stem=_W("Ibérica|Levante|Cantábrica|Mediterránea|Castellana|Galaica|Andaluza|del Norte|"
                "del Ebro|del Tajo|del Duero|Balear"),
        trade=_W("Distribuciones|Automatización|Suministros Industriales|Técnicas|Electro"),
        legal=_W("S.L.|S.L.|S.A."),
        patterns=["{trade} {last} {legal}", "{trade} {stem} {legal}", "{last} y {last2} {legal}"],
    ),
    "pt": dict(
        first=_W("João|Ana|Pedro|Mariana|Tiago|Inês|Rui|Beatriz|Miguel|Catarina"),
        last=_W("Silva|Santos|Ferreira|Pereira|Oliveira|Costa|Rodrigues|Martins|Sousa|Fernandes|"
                "Gonçalves|Lopes"),
        stem=_W("Tejo|Douro|Minho|Algarve|Atlântico|Lusitana|Alentejo|Beira"),
        trade=_W("Automação|Eletricidade|Equipamentos|Sistemas"),
        legal=_W("Lda.|Lda.|S.A."),
        patterns=["{last} & Filhos, {legal}", "{stem} {trade}, {legal}", "{last} {trade}, {legal}"],
    ),
}
_SYLLABLES = _W("ka|lo|ve|ra|ti|no|mi|sa|de|ro|va|len|tor|mar|ber|sen|dal|vik|nor|tes|cal|lum|ren|dor")


# --- small helpers -------------------------------------------------------------------------------

def _day(value) -> int:
    """Days since 1970-01-01 of a date-like value."""
    return int((np.datetime64(pd.Timestamp(value).date(), "D") - _EPOCH).astype(np.int64))


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """datetime64[ns] of day numbers; NaT where ``valid`` is False."""
    days = np.asarray(days, dtype=np.int64)
    if valid is not None:
        days = np.where(valid, days, 0)
    out = (_EPOCH + days).astype("datetime64[ns]")
    if valid is not None:
        out[~valid] = np.datetime64("NaT")
    return out


def _take(labels, codes: np.ndarray) -> pd.Series:
    """``labels[codes]`` as a ``str`` Series (codes < 0: missing), through Arrow (no Python loop)."""
    arr = pa.array([str(x) for x in labels], type=pa.string())
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    index = pa.array(np.where(missing, 0, codes), mask=missing if missing.any() else None)
    return pd.Series(arr.take(index), dtype="str")


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """``prefix`` + zero-padded ``numbers`` as a ``str`` Series ("O" + 17 → "O000017")."""
    text = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pd.Series(pc.binary_join_element_wise(pa.scalar(prefix), text, ""), dtype="str")


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(max(int(n), 1))))


def _columns(table: str) -> list[str]:
    return list(TABLES[table][0].to_schema().columns)


def _frame(table: str, data: dict) -> pd.DataFrame:
    """A frame with exactly the columns of ``table``'s model, in the model's order."""
    cols = _columns(table)
    missing = set(cols) - set(data)
    if missing:  # pragma: no cover - a programming error in this module
        raise AssertionError(f"sample {table}: columns not generated: {sorted(missing)}")
    return pd.DataFrame({c: data[c] for c in cols})


def _ascii(text: str) -> str:
    """Lower-case ASCII letters/digits of ``text`` (ł → l, ß → ss, accents dropped)."""
    text = text.translate(str.maketrans({"ł": "l", "Ł": "L", "ß": "ss", "ø": "o", "Ø": "O",
                                         "æ": "ae", "Æ": "AE", "đ": "d"}))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return text.lower()


def slug(name: str) -> str:
    """Email domain label of a partner name: "Nordlicht GmbH" → "nordlicht-gmbh"."""
    return re.sub(r"[^a-z0-9]+", "-", _ascii(name)).strip("-") or "partner"


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


# --- names ---------------------------------------------------------------------------------------

class _NameRegistry:
    """Accepts names only if no accepted name contains another (nor equals it), ignoring case."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self._joined = "\x00"

    def fits(self, cand: str) -> bool:
        cand = cand.casefold()
        if cand in self._joined:  # cand inside (or equal to) an accepted name
            return False
        n = len(cand)
        return not any(cand[i:j] in self.names for i in range(n) for j in range(i + 1, n + 1))

    def add(self, cand: str) -> None:
        cand = cand.casefold()
        self.names.add(cand)
        self._joined += cand + "\x00"


def _company_name(rng: np.random.Generator, style: str, attempt: int) -> str:
    s = NAME_STYLES[style]
    if attempt < 40:
        pattern = _pick(rng, s["patterns"])
        last, last2 = _pick(rng, s["last"]), _pick(rng, s["last"])
        while last2 == last:
            last2 = _pick(rng, s["last"])
        return pattern.format(last=last, last2=last2, stem=_pick(rng, s["stem"]),
                              trade=_pick(rng, s["trade"]), legal=_pick(rng, s["legal"]))
    # combinations exhausted: an invented brand word keeps names distinct
    word = "".join(_pick(rng, _SYLLABLES) for _ in range(2 + attempt // 80)).capitalize()
    return f"{word} {_pick(rng, s['trade'])} {_pick(rng, s['legal'])}"


def _partner_names(rng: np.random.Generator, styles: list[str], markup_at: int | None) -> list[str]:
    registry = _NameRegistry()
    if markup_at is not None:
        registry.add(MARKUP_NAME)
    names = []
    for i, style in enumerate(styles):
        if i == markup_at:
            names.append(MARKUP_NAME)
            continue
        attempt = 0
        cand = _company_name(rng, style, attempt)
        while not registry.fits(cand):
            attempt += 1
            cand = _company_name(rng, style, attempt)
        registry.add(cand)
        names.append(cand)
    return names


# --- the time frame ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Window:
    """Quarter slots of the history: ``quarters`` complete ones, then the current (partial) one."""

    labels: list[str]
    starts: np.ndarray  # first day of each slot (day numbers)
    ends: np.ndarray  # last day of each slot, the current one cut at as_of
    qnum: np.ndarray  # calendar quarter number 1..4
    as_of: int
    complete: int  # number of complete quarters (the current slot, if any, follows)

    @property
    def start(self) -> int:
        return int(self.starts[0])


def _window(as_of: pd.Timestamp, quarters: int) -> _Window:
    last = periods.last_complete_quarter(as_of.date())
    labels = periods.quarter_range(last, quarters)
    current = str(pd.Period(as_of, freq="Q-DEC"))
    if current != last:
        labels.append(current)
    starts, ends = [], []
    for label in labels:
        lo, hi = periods.quarter_bounds(label)
        starts.append(_day(lo))
        ends.append(min(_day(hi), _day(as_of)))
    qnum = np.array([int(label[-1]) for label in labels])
    return _Window(labels, np.array(starts), np.array(ends), qnum, _day(as_of), quarters)


# --- partners ------------------------------------------------------------------------------------

@dataclass
class _Partners:
    """Per-partner attributes (arrays of length n) the other tables are drawn from."""

    ids: list[str]
    type: np.ndarray
    size: np.ndarray
    growth: np.ndarray
    onboard: np.ndarray
    end: np.ndarray  # day number; a far-future day while active
    churned: np.ndarray
    tiny: np.ndarray
    newbie: np.ndarray
    currency: np.ndarray  # index into CURRENCIES
    first: np.ndarray  # first day the partner is active within the history
    last: np.ndarray  # last day active within the history (as_of or end)
    reps: np.ndarray
    frame: pd.DataFrame
    styles: list[str]
    names: list[str]


_FAR = 10**6


def _partners(rng: np.random.Generator, n: int, win: _Window) -> _Partners:
    region_names = list(REGIONS)
    region = rng.choice(len(region_names), size=n, p=_REGION_P)
    # every region (in its main country) appears at least once when there are enough partners
    order = rng.permutation(n)
    forced_main = np.zeros(n, dtype=bool)
    for k, idx in enumerate(order[: min(n, len(region_names))]):
        region[idx] = k
        forced_main[idx] = True

    country, locale, currency, style = [], [], [], []
    u_country, u_locale = rng.random(n), rng.random(n)
    for i in range(n):
        options = REGIONS[region_names[region[i]]]
        shares = np.cumsum([o[1] for o in options])
        c = 0 if forced_main[i] else int(np.searchsorted(shares, u_country[i] * shares[-1], side="right"))
        c = min(c, len(options) - 1)
        code, _, locales, cur, sty = options[c]
        lshares = np.cumsum([share for _, share in locales])
        lk = min(int(np.searchsorted(lshares, u_locale[i] * lshares[-1], side="right")), len(locales) - 1)
        country.append(code)
        locale.append(locales[lk][0])
        currency.append(CURRENCIES.index(cur))
        style.append("nl" if locales[lk][0].startswith("nl") else sty)
    currency = np.array(currency)

    ptype = rng.choice(len(TYPES), size=n, p=_TYPE_P)
    size = rng.lognormal(0.0, 1.5, n) * _TYPE_SIZE[ptype]

    # special roles on disjoint partners: tiny samples, onboarded but no deal yet, churned, markup
    n_tiny = max(2, round(0.03 * n)) if n >= 8 else min(1, n)
    n_new = max(1, round(0.02 * n)) if n >= 8 else 0
    n_churn = max(2, round(0.08 * n)) if n >= 8 else 0
    roles = rng.permutation(n)
    tiny = np.zeros(n, dtype=bool)
    newbie = np.zeros(n, dtype=bool)
    churned = np.zeros(n, dtype=bool)
    tiny[roles[:n_tiny]] = True
    newbie[roles[n_tiny:n_tiny + n_new]] = True
    churned[roles[n_tiny + n_new:n_tiny + n_new + n_churn]] = True
    rest = roles[n_tiny + n_new + n_churn:]
    markup_at = int(rest[0]) if len(rest) else None
    if markup_at is not None:
        region[markup_at] = region_names.index("UK & Ireland")
        country[markup_at], locale[markup_at], style[markup_at] = "GB", "en_GB", "en"
        currency[markup_at] = CURRENCIES.index("GBP")

    start, as_of = win.start, win.as_of
    joined = rng.random(n) < 0.2  # onboarded during the window
    onboard = np.where(
        joined,
        start + (rng.random(n) * max(1, as_of - 60 - start)).astype(np.int64),
        start - 30 - (rng.random(n) * 8 * 365).astype(np.int64),
    )
    onboard[churned] = start - 60 - (rng.random(churned.sum()) * 5 * 365).astype(np.int64)
    onboard[newbie] = as_of - 5 - (rng.random(newbie.sum()) * 40).astype(np.int64)
    end = np.full(n, _FAR, dtype=np.int64)
    lo_end = np.maximum(onboard + 30, start + 30)
    hi_end = np.maximum(as_of - 7, lo_end)
    end[churned] = (lo_end + rng.random(n) * (hi_end - lo_end))[churned].astype(np.int64)
    end = np.minimum(end, np.where(churned, as_of - 1, _FAR))

    kind = rng.choice(3, size=n, p=[0.30, 0.20, 0.50])  # growing, declining, steady
    growth = np.select([kind == 0, kind == 1], [rng.uniform(0.03, 0.10, n), rng.uniform(-0.10, -0.03, n)],
                       rng.normal(0.0, 0.01, n))
    growth[churned] = rng.uniform(-0.15, -0.05, churned.sum())

    first = np.maximum(onboard, start)
    last = np.minimum(end, as_of)
    med = np.median(size)
    reps = np.clip(np.round(2.0 * (size / med) ** 0.45 * rng.lognormal(0, 0.3, n)), 1, 80).astype(np.int64)

    ids_width = _width(n, 4)
    ids = [f"P{i + 1:0{ids_width}d}" for i in range(n)]
    names = _partner_names(rng, style, markup_at)

    rank = pd.Series(size).rank(pct=True, method="first").to_numpy()
    tier = np.select([rank > 0.97, rank > 0.85, rank > 0.55], ["Platinum", "Gold", "Silver"], "Registered")
    tier = np.where(newbie | (onboard > as_of - 180), "Registered", tier)
    distributors = np.flatnonzero(ptype == 0)
    parent = np.full(n, -1)
    if len(distributors):
        grouped = (rng.random(n) < 0.04) & (ptype != 0)
        parent[grouped] = rng.choice(distributors, size=grouped.sum())
    no_reps = rng.random(n) < 0.03
    null_locale = (rng.random(n) < 0.01) & ~forced_main
    if markup_at is not None:
        null_locale[markup_at] = False

    frame = _frame("partners", {
        "partner_id": pd.Series(ids, dtype="str"),
        "name": pd.Series(names, dtype="str"),
        "partner_type": _take(TYPES, ptype),
        "region": _take(region_names, region),
        "country": pd.Series(country, dtype="str"),
        "locale": pd.Series(np.where(null_locale, None, np.array(locale, dtype=object)), dtype="str"),
        "currency": _take(CURRENCIES, currency),
        "onboarded_date": _dates(onboard),
        "end_date": _dates(end, churned),
        "sales_reps": pd.array(np.where(no_reps, None, reps.astype(object)), dtype="Int64"),
        "tier": pd.Series(tier, dtype="str"),
        "parent_id": _take(ids, parent),
    })
    return _Partners(ids, ptype, size, growth, onboard, end, churned, tiny, newbie, currency,
                     first, last, reps, frame, style, names)


def _contacts(rng: np.random.Generator, p: _Partners) -> pd.DataFrame:
    n = len(p.ids)
    counts = rng.choice([1, 2, 3], size=n, p=[0.35, 0.40, 0.25])
    no_recipient = rng.random(n) < 0.04
    if n >= 8 and not no_recipient.any():
        no_recipient[int(rng.integers(n))] = True
    rows = {"partner_id": [], "name": [], "email": [], "role": [], "receives_scorecard": []}
    for i in range(n):
        style = NAME_STYLES[p.styles[i]]
        domain = slug(p.names[i]) + ".example"
        used: set[str] = set()
        for k in range(counts[i]):
            first, last = _pick(rng, style["first"]), _pick(rng, style["last"])
            local = re.sub(r"[^a-z0-9]+", "", _ascii(first)) + "." + re.sub(r"[^a-z0-9]+", "", _ascii(last))
            email, m = f"{local}@{domain}", 2
            while email in used:
                email, m = f"{local}{m}@{domain}", m + 1
            used.add(email)
            rows["partner_id"].append(p.ids[i])
            rows["name"].append(f"{first} {last}")
            rows["email"].append(email)
            rows["role"].append(_pick(rng, OWNER_ROLES) if k == 0 else _pick(rng, ROLES))
            receives = (k == 0 or rng.random() < 0.3) and not no_recipient[i]
            rows["receives_scorecard"].append(bool(receives))
    data = {k: pd.Series(v, dtype="str") for k, v in rows.items() if k != "receives_scorecard"}
    data["receives_scorecard"] = np.array(rows["receives_scorecard"], dtype=bool)
    return _frame("partner_contacts", data)


# --- money ---------------------------------------------------------------------------------------

def _fx(rng: np.random.Generator, win: _Window) -> tuple[np.ndarray, pd.DataFrame]:
    """EUR per unit for every currency (rows, EUR first = 1) x slot, and the fx_rates table."""
    n_slots = len(win.labels)
    rates = np.ones((len(CURRENCIES), n_slots))
    for k, cur in enumerate(CURRENCIES[1:], start=1):
        walk = np.cumsum(rng.normal(0.0, 0.02, n_slots))
        rates[k] = np.round(_FX_BASE[cur] * np.exp(walk - walk[0]), 6)
    cur_idx = np.repeat(np.arange(1, len(CURRENCIES)), n_slots)
    slot_idx = np.tile(np.arange(n_slots), len(CURRENCIES) - 1)
    frame = _frame("fx_rates", {
        "currency": _take(CURRENCIES, cur_idx),
        "period": _take(win.labels, slot_idx),
        "rate": rates[cur_idx, slot_idx],
    })
    return rates, frame


# --- sales ---------------------------------------------------------------------------------------

@dataclass
class _SalesFacts:
    """What the other tables need from the generated sales."""

    revenue_eur: np.ndarray  # partner x slot
    new_customers: np.ndarray  # partner x slot: customers whose first purchase falls in the slot
    customers: np.ndarray  # number of customers per partner
    cust_offset: np.ndarray  # first global customer number of each partner
    registration: np.ndarray  # partner compliance (share of units registered)
    buyers: np.ndarray  # global numbers of customers with at least one line, grouped by partner
    buyer_offset: np.ndarray  # first position of each partner's buyers in ``buyers``
    buyers_per_partner: np.ndarray


def _cells(win: _Window, p: _Partners):
    """Active day range of every partner x slot cell (hi < lo: inactive)."""
    lo = np.maximum(win.starts[None, :], p.first[:, None])
    hi = np.minimum(win.ends[None, :], p.last[:, None])
    return lo, hi


def _sales(rng: np.random.Generator, p: _Partners, win: _Window, rates: np.ndarray,
           n_lines: int) -> tuple[pd.DataFrame, _SalesFacts]:
    n, n_slots = len(p.ids), len(win.labels)
    lo, hi = _cells(win, p)
    days_active = np.maximum(hi - lo + 1, 0)
    full = (win.ends - win.starts + 1).astype(float)
    full[-1] = 91.0 if win.complete < n_slots else full[-1]
    season = np.array([_SEASON[q] for q in win.qnum])
    centre = np.arange(n_slots) - (n_slots - 1) / 2
    mid = (lo + hi) / 2
    ramp = np.clip((mid - p.onboard[:, None]) / 150.0, 0.15, 1.0)
    weight = (p.size[:, None] * np.exp(p.growth[:, None] * centre[None, :]) * season[None, :]
              * rng.lognormal(0.0, 0.12, (n, n_slots)) * ramp * days_active / full[None, :])
    weight[p.tiny | p.newbie] = 0.0

    # tiny partners: 1-5 lines anywhere in their active days; everyone else: multinomial
    tiny_idx = np.flatnonzero(p.tiny & (p.last >= p.first))
    tiny_counts = rng.integers(1, 6, len(tiny_idx))
    main = max(0, int(n_lines) - int(tiny_counts.sum()))
    total = weight.sum()
    counts = rng.multinomial(main, (weight / total).ravel()) if total > 0 else np.zeros(n * n_slots, int)
    cell = np.repeat(np.arange(n * n_slots), counts)
    part = np.concatenate([cell // n_slots, np.repeat(tiny_idx, tiny_counts)]).astype(np.int32)
    l_lo = np.concatenate([lo.ravel()[cell], p.first[part[len(cell):]]])
    l_hi = np.concatenate([hi.ravel()[cell], p.last[part[len(cell):]]])
    del cell
    day = l_lo + (rng.random(len(part)) * (l_hi - l_lo + 1)).astype(np.int64)
    dow = (day + 3) % 7  # 0 = Monday
    back = np.where(dow == 5, 1, np.where(dow == 6, 2, 0))
    move = (back > 0) & (day - back >= l_lo) & (rng.random(len(day)) < 0.9)
    day = np.where(move, day - back, day)
    del l_lo, l_hi, dow, back, move
    order = np.argsort(day.astype(np.int64) * (n + 1) + part, kind="stable")
    day, part = day[order].astype(np.int32), part[order]
    del order
    m = len(day)
    slot = (np.searchsorted(win.starts, day, side="right") - 1).astype(np.int16)

    # end customers: a growing pool per partner, loyal early customers buy most often
    per_partner = np.bincount(part, minlength=n)
    n_cust = np.where(per_partner > 0, np.maximum(1, np.round(0.35 * per_partner ** 0.85)), 0).astype(np.int64)
    cust_offset = np.concatenate([[0], np.cumsum(n_cust)[:-1]])
    span = np.maximum(p.last - p.first, 1).astype(float)
    t = (day - p.first[part]) / span[part]
    pool = n_cust[part]
    available = np.clip(np.ceil(pool * (0.35 + 0.65 * t)), 1, pool).astype(np.int64)
    del t
    newest = rng.random(m) < 0.15
    u = rng.random(m)
    local = np.where(newest, available - 1 - (u * np.minimum(available, 4)).astype(np.int64),
                     (available * u ** 1.6).astype(np.int64))
    cust = cust_offset[part] + np.clip(local, 0, pool - 1)
    del local, available, newest, u, pool

    # categories: partner specialisation (Dirichlet) and each customer's main category
    base = np.array([c[4] for c in CATEGORIES])
    conc = np.where(p.type == 0, 12.0, 2.5)[:, None]
    mix = rng.gamma(base[None, :] * conc, 1.0, (n, len(CATEGORIES)))
    mix = mix / mix.sum(axis=1, keepdims=True)
    cum = np.cumsum(mix, axis=1)

    def draw(rows: np.ndarray) -> np.ndarray:
        u = rng.random(len(rows))
        out = np.zeros(len(rows), dtype=np.int8)
        for k in range(len(CATEGORIES) - 1):
            out += (u > cum[rows, k]).astype(np.int8)
        return out

    n_total_cust = int(n_cust.sum())
    home = draw(np.repeat(np.arange(n), n_cust))
    cat = np.where(rng.random(m) < 0.65, home[cust], draw(part))
    del home
    zipf = 1.0 / np.arange(1, _SKUS_PER_CATEGORY + 1) ** 1.1
    sku = cat.astype(np.int64) * _SKUS_PER_CATEGORY + np.searchsorted(
        np.cumsum(zipf) / zipf.sum(), rng.random(m), side="right").clip(0, _SKUS_PER_CATEGORY - 1)
    price = np.repeat([c[1] for c in CATEGORIES], _SKUS_PER_CATEGORY) * rng.lognormal(
        0, 0.35, len(CATEGORIES) * _SKUS_PER_CATEGORY)
    margin = np.array([c[2] for c in CATEGORIES])
    extra = np.array([c[3] for c in CATEGORIES])

    qty_scale = _TYPE_QTY[p.type] * rng.lognormal(0, 0.2, n)
    qty = 1 + rng.poisson(extra[cat] * qty_scale[part])
    discount = np.clip(_TYPE_DISCOUNT[p.type] + rng.uniform(-0.04, 0.04, n), 0.0, 0.6)
    rev_eur = qty * price[sku] * (1 - discount[part]) * rng.lognormal(0, 0.08, m)
    margin_factor = rng.lognormal(0, 0.15, n)
    line_margin = np.clip(margin[cat] * margin_factor[part] * rng.lognormal(0, 0.1, m), 0.03, 0.9)
    cost_eur = rev_eur * (1 - line_margin)
    del line_margin
    rate = rates[p.currency[part], slot]
    revenue = np.round(rev_eur / rate, 2)
    cost = np.round(cost_eur / rate, 2)
    del cost_eur, rate

    # registration: compliance per partner (some ~95 %, some ~30 %), a lag after the sale
    group = rng.choice(3, size=n, p=[0.35, 0.40, 0.25])
    compliance = np.select([group == 0, group == 1], [rng.uniform(0.88, 0.98, n), rng.uniform(0.55, 0.85, n)],
                           rng.uniform(0.20, 0.45, n))
    lag_mean = rng.uniform(3, 40, n)
    registered = rng.binomial(qty, compliance[part])
    reg_day = day + 1 + rng.exponential(1.0, m) * lag_mean[part]
    reg_day = reg_day.astype(np.int64)
    in_time = reg_day <= win.as_of
    registered = np.where(in_time, registered, 0)
    reg_ok = registered > 0

    channel = np.where((p.type == 0) | (rng.random(n) < 0.15), 0, 1)  # 0 sell_in, 1 sell_through
    w_line = _width(m, 8)
    w_cust = _width(n_total_cust, 7)
    cust_labels = _ids("C", np.arange(1, n_total_cust + 1), w_cust)
    sku_labels = [f"SKU-{1000 + 100 * (k // _SKUS_PER_CATEGORY + 1) + k % _SKUS_PER_CATEGORY + 1}"
                  for k in range(len(price))]
    frame = _frame("sales", {
        "line_id": _ids("SL", np.arange(1, m + 1), w_line),
        "date": _dates(day),
        "partner_id": _take(p.ids, part),
        "customer_id": pd.Series(pa.array(cust_labels.array).take(pa.array(cust)), dtype="str"),
        "product_id": _take(sku_labels, sku),
        "category": _take([c[0] for c in CATEGORIES], cat),
        "quantity": qty.astype(np.int64),
        "revenue": revenue,
        "cost": cost,
        "currency": _take(CURRENCIES, p.currency[part]),
        "registered_units": registered.astype(np.int64),
        "registered_date": _dates(reg_day, reg_ok),
        "channel": _take(["sell_in", "sell_through"], channel[part]),
    })

    cell_of_line = part.astype(np.int64) * n_slots + slot
    revenue_cells = np.bincount(cell_of_line, weights=rev_eur, minlength=n * n_slots).reshape(n, n_slots)
    first_day = np.full(n_total_cust, np.iinfo(np.int64).max)
    np.minimum.at(first_day, cust, day.astype(np.int64))
    first_slot = np.searchsorted(win.starts, first_day, side="right") - 1
    cust_partner = np.repeat(np.arange(n), n_cust)
    new_cells = np.bincount(cust_partner * n_slots + first_slot, minlength=n * n_slots).reshape(n, n_slots)
    used = np.zeros(n_total_cust, dtype=bool)
    used[cust] = True
    buyers = np.flatnonzero(used)
    per_partner_buyers = np.bincount(cust_partner[buyers], minlength=n)
    buyer_offset = np.concatenate([[0], np.cumsum(per_partner_buyers)[:-1]])
    facts = _SalesFacts(revenue_cells, new_cells, n_cust, cust_offset, compliance, buyers, buyer_offset,
                        per_partner_buyers)
    return frame, facts


# --- pipeline ------------------------------------------------------------------------------------

def _opportunities(rng: np.random.Generator, p: _Partners, win: _Window, rates: np.ndarray,
                   facts: _SalesFacts):
    n = len(p.ids)
    active_days = np.maximum(p.last - p.first + 1, 0)
    med = np.median(p.size)
    lam = 2.2 * active_days / 91.0 * (p.size / med) ** 0.35
    count = rng.poisson(lam)
    count[p.tiny] = rng.integers(1, 4, p.tiny.sum())
    count[p.newbie | (active_days == 0)] = 0
    op = np.repeat(np.arange(n), count)
    k = len(op)
    created = p.first[op] + (rng.random(k) * (p.last[op] - p.first[op] + 1)).astype(np.int64)
    order = np.argsort(created, kind="stable")
    op, created = op[order], created[order]

    cycle_med = _TYPE_CYCLE[p.type] * rng.lognormal(0, 0.35, n)
    cycle = np.maximum(3, np.round(rng.lognormal(np.log(cycle_med[op]), 0.55))).astype(np.int64)
    close = created + cycle
    end = p.end[op]
    closed = close <= np.minimum(win.as_of, end)
    forced = ~closed & (end < win.as_of)  # partner left while the deal was open: lost
    win_rate = rng.beta(3, 4, n)
    won = closed & (rng.random(k) < win_rate[op])
    lost = (closed & ~won) | forced
    is_open = ~(won | lost)
    closed_day = np.where(closed, close, np.where(forced, end, 0))

    stage_open = np.minimum(3, (4 * (win.as_of - created) / cycle).astype(np.int64))
    lost_at = rng.choice(4, size=k, p=[0.35, 0.30, 0.20, 0.15])
    planned = np.maximum(1, np.round(cycle * rng.lognormal(-0.1, 0.35, k))).astype(np.int64)
    expected = created + planned

    size_eur = 12000 * (p.size[op] / med) ** 0.3 * rng.lognormal(0, 0.9, k)
    slot = np.searchsorted(win.starts, created, side="right") - 1
    amount = np.round(size_eur / rates[p.currency[op], slot], -1)

    # the deal's end customer is one who bought from the partner (a known customer id)
    bought = facts.buyers_per_partner[op]
    has_cust = (bought > 0) & (rng.random(k) < 0.85)
    pick = facts.buyer_offset[op] + (rng.random(k) * np.maximum(bought, 1)).astype(np.int64)
    cust = facts.buyers[np.minimum(pick, max(len(facts.buyers) - 1, 0))] if len(facts.buyers) else pick
    cust_w = _width(int(facts.customers.sum()), 7)
    stage_code = np.where(is_open, stage_open, np.where(won, 4, 5))
    labels = [*STAGES, "Won", "Lost"]
    opp_w = _width(k, 6)
    opp_ids = _ids("O", np.arange(1, k + 1), opp_w)
    cust_ids = _ids("C", cust + 1, cust_w).where(has_cust)
    frame = _frame("opportunities", {
        "opportunity_id": opp_ids,
        "partner_id": _take(p.ids, op),
        "customer_id": cust_ids.astype("str"),
        "created_date": _dates(created),
        "stage": _take(labels, stage_code),
        "amount": amount,
        "currency": _take(CURRENCIES, p.currency[op]),
        "expected_close_date": _dates(expected),
        "closed_date": _dates(closed_day, ~is_open),
        "outcome": _take(["open", "won", "lost"], np.where(is_open, 0, np.where(won, 1, 2))),
    })

    # stage history: every open stage reached, then Won / Lost on the closed date
    reached = np.where(is_open, stage_open + 1, np.where(won, 4, lost_at + 1))
    rows = reached + (~is_open).astype(np.int64)
    h = np.repeat(np.arange(k), rows)
    j = np.arange(len(h)) - np.repeat(np.cumsum(rows) - rows, rows)
    span = np.where(is_open, win.as_of - created, closed_day - created)[h]
    entered = np.where(j < reached[h], created[h] + (span * j // reached[h]), closed_day[h])
    code = np.where(j < reached[h], j, np.where(won[h], 4, 5))
    stages = _frame("opportunity_stages", {
        "opportunity_id": pd.Series(pa.array(opp_ids.array).take(pa.array(h)), dtype="str"),
        "stage": _take(labels, code),
        "entered_date": _dates(entered),
    })
    return frame, stages, op, created


def _leads(rng: np.random.Generator, p: _Partners, win: _Window, opp_partner: np.ndarray,
           opp_created: np.ndarray, opp_ids: pd.Series) -> pd.DataFrame:
    n = len(p.ids)
    accept = rng.beta(4, 2, n) * 0.75 + 0.2  # 0.2 .. 0.95
    accept_days = rng.uniform(0.5, 8, n)
    lead_share = np.clip(0.7 * accept * rng.uniform(0.2, 0.9, n), 0.05, 0.8)

    # converted leads: the deals they became exist (same partner, created after acceptance)
    src = np.flatnonzero(rng.random(len(opp_partner)) < lead_share[opp_partner])
    cp = opp_partner[src]
    c_created = opp_created[src]
    c_accepted = np.maximum(c_created - 1 - rng.exponential(8.0, len(src)).astype(np.int64), p.first[cp])
    c_assigned = np.maximum(c_accepted - rng.exponential(accept_days[cp]).astype(np.int64), p.first[cp])
    c_accepted = np.maximum(c_accepted, c_assigned)

    # leads that did not (yet) become a deal
    active_days = np.maximum(p.last - p.first + 1, 0)
    med = np.median(p.size)
    lam = 3.0 * active_days / 91.0 * (p.size / med) ** 0.3
    lam[p.tiny | p.newbie] = np.minimum(lam[p.tiny | p.newbie], 1.0)
    lam[active_days == 0] = 0
    nc = rng.poisson(lam)
    lp = np.repeat(np.arange(n), nc)
    assigned = p.first[lp] + (rng.random(len(lp)) * (p.last[lp] - p.first[lp] + 1)).astype(np.int64)
    accepted = assigned + rng.exponential(accept_days[lp]).astype(np.int64)
    is_acc = (rng.random(len(lp)) < accept[lp]) & (accepted <= win.as_of)
    age = win.as_of - assigned
    rejected = ~is_acc & (age >= 10) & (rng.random(len(lp)) < 0.55)
    expired = ~is_acc & ~rejected & (age >= 30)
    status = np.where(is_acc, 1, np.where(rejected, 2, np.where(expired, 4, 0)))

    partner = np.concatenate([cp, lp])
    assigned_all = np.concatenate([c_assigned, assigned])
    accepted_all = np.concatenate([c_accepted, accepted])
    accepted_ok = np.concatenate([np.ones(len(cp), bool), is_acc])
    status_all = np.concatenate([np.full(len(cp), 3), status])
    opp_ref = np.concatenate([src, np.full(len(lp), -1)])
    order = np.lexsort((partner, assigned_all))
    k = len(order)
    return _frame("leads", {
        "lead_id": _ids("L", np.arange(1, k + 1), _width(k, 6)),
        "partner_id": _take(p.ids, partner[order]),
        "assigned_date": _dates(assigned_all[order]),
        "accepted_date": _dates(accepted_all[order], accepted_ok[order]),
        "status": _take(["assigned", "accepted", "rejected", "converted", "expired"], status_all[order]),
        "opportunity_id": _take(list(opp_ids), opp_ref[order]),
    })


# --- programme tables ----------------------------------------------------------------------------

def _targets(rng: np.random.Generator, p: _Partners, win: _Window, facts: _SalesFacts,
             certified: np.ndarray) -> pd.DataFrame:
    n, n_slots = len(p.ids), len(win.labels)
    lo, hi = _cells(win, p)
    active = hi >= lo
    with_plan = rng.random(n) < 0.92
    cells = np.flatnonzero((active & with_plan[:, None]).ravel())
    pi, si = cells // n_slots, cells % n_slots
    rev = facts.revenue_eur
    avg = rev.sum(axis=1) / np.maximum((rev > 0).sum(axis=1), 1)
    fallback = np.maximum(avg, 5000.0)
    base = rev[pi, si]
    # the current quarter has only begun: its target comes from the same quarter a year earlier
    is_current = si >= win.complete
    prior = np.where(si >= 4, rev[pi, np.maximum(si - 4, 0)], 0.0)
    base = np.where(is_current, np.where(prior > 0, prior, fallback[pi]), base)
    base = np.where(base > 0, base, fallback[pi] * 0.5)
    revenue = np.round(base * rng.lognormal(0.05, 0.18, len(cells)), -2)

    new_c = facts.new_customers[pi, si].astype(float)
    new_c = np.where(is_current | (new_c == 0), np.maximum(facts.new_customers[pi].mean(axis=1), 1), new_c)
    new_target = np.maximum(1, np.round(new_c * rng.lognormal(0.05, 0.3, len(cells))))
    reg_target = rng.choice([0.7, 0.8, 0.9], size=n, p=[0.3, 0.5, 0.2])[pi]
    cert_target = np.clip(np.round(np.maximum(certified, 1) * rng.lognormal(0.1, 0.35, n)), 1, 12)[pi]

    metrics = ["revenue", "new_customers", "registration_rate", "certified_reps"]
    values = np.concatenate([revenue, new_target, reg_target, cert_target])
    k = len(cells)
    return _frame("targets", {
        "partner_id": _take(p.ids, np.tile(pi, 4)),
        "period": _take(win.labels, np.tile(si, 4)),
        "metric": _take(metrics, np.repeat(np.arange(4), k)),
        "target": values.astype(float),
    })


def _mdf(rng: np.random.Generator, p: _Partners, win: _Window, facts: _SalesFacts) -> pd.DataFrame:
    n, n_slots = len(p.ids), len(win.labels)
    lo, hi = _cells(win, p)
    rank = pd.Series(p.size).rank(pct=True).to_numpy()
    funded = ((hi - lo + 1) >= 30) & (rng.random((n, n_slots)) < (0.2 + 0.6 * rank)[:, None])
    funded[:, win.complete:] = False  # the current quarter's funds are not claimed yet
    funded[p.tiny | p.newbie] = False
    per_cell = np.where(funded, rng.choice([1, 2], size=(n, n_slots), p=[0.7, 0.3]), 0).ravel()
    cells = np.repeat(np.arange(n * n_slots), per_cell)
    pi, si = cells // n_slots, cells % n_slots
    k = len(cells)
    quarterly = np.maximum(facts.revenue_eur.mean(axis=1), 2000.0)
    allocated = np.clip(np.round(quarterly[pi] * 0.02 * rng.lognormal(0, 0.3, k), -2), 1000, 150000)
    usage = rng.choice(3, size=n, p=[0.3, 0.5, 0.2])[pi]  # under, normal, over
    requested = allocated * np.where(usage == 2, rng.uniform(1.1, 1.5, k), rng.uniform(0.8, 1.2, k))
    cap = allocated * np.where(usage == 2, rng.uniform(1.1, 1.4, k), 1.0)
    approved = np.round(np.minimum(requested, cap), -1)
    util = np.select([usage == 0, usage == 1], [rng.uniform(0.0, 0.6, k), rng.uniform(0.85, 1.0, k)],
                     rng.uniform(0.95, 1.0, k))
    claimed = np.round(approved * util, -1)
    attributed = np.round(claimed * rng.lognormal(np.log(4.0), 0.8, k), -2)
    has_attr = (rng.random(k) > 0.15) & (claimed > 0)
    return _frame("mdf", {
        "activity_id": _ids("MDF-", np.arange(1, k + 1), _width(k, 5)),
        "partner_id": _take(p.ids, pi),
        "period": _take(win.labels, si),
        "activity_type": _take(MDF_ACTIVITIES, rng.integers(0, len(MDF_ACTIVITIES), k)),
        "allocated": allocated.astype(float),
        "requested": np.round(requested, -1),
        "approved": approved,
        "claimed": claimed,
        "attributed_revenue": np.where(has_attr, attributed, np.nan),
        "currency": pd.Series([REPORTING_CURRENCY] * k, dtype="str"),
    })


@dataclass(frozen=True)
class _MdfStudy:
    """The planted MDF experiment: per study partner (index into the partners) its activity type
    (None: a comparison partner without MDF) and event slot (-1 for comparison partners)."""

    partner: np.ndarray
    kind: list
    slot: np.ndarray


def _mdf_study(seed: int, p: _Partners, win: _Window) -> _MdfStudy:
    """Pick the study partners with the study's own random stream (``[seed, _MDF_STUDY_STREAM]``):
    ``MDF_STUDY_SHARE`` of the eligible partners per planted type, each with a random event quarter
    that leaves ``MDF_STUDY_PRE`` complete quarters before it and ``MDF_STUDY_POST`` from it, and
    ``MDF_STUDY_CONTROL_SHARE`` as comparison partners. No study when the history is too short."""
    rng = np.random.default_rng([int(seed), _MDF_STUDY_STREAM])
    eligible = np.flatnonzero(~p.tiny & ~p.newbie & (p.onboard <= win.start - 150) & (p.last >= win.as_of))
    lo, hi = MDF_STUDY_PRE, win.complete - MDF_STUDY_POST  # event slots lo..hi
    if hi < lo or not len(eligible):
        return _MdfStudy(np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64))
    order = rng.permutation(eligible)
    per_type = int(round(MDF_STUDY_SHARE * len(eligible)))
    n_controls = int(round(MDF_STUDY_CONTROL_SHARE * len(eligible)))
    kinds, partners, slots = [], [], []
    at = 0
    for kind in MDF_PLANTED_LIFT:
        chosen = order[at:at + per_type]
        at += len(chosen)
        partners.append(chosen)
        kinds += [kind] * len(chosen)
        slots.append(rng.integers(lo, hi + 1, len(chosen)))
    controls = order[at:at + n_controls]
    partners.append(controls)
    kinds += [None] * len(controls)
    slots.append(np.full(len(controls), -1))
    return _MdfStudy(np.concatenate(partners).astype(np.int64), kinds, np.concatenate(slots).astype(np.int64))


def _with_mdf_study(mdf: pd.DataFrame, sales: pd.DataFrame, study: _MdfStudy, p: _Partners,
                    win: _Window, facts: _SalesFacts) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The mdf and sales tables with the planted experiment (the only rows that change):

    - mdf: every random row of a study partner is removed; each treated study partner gets one
      activity of its planted type in its event quarter (ids continue after the last random one);
    - sales: the lines of a partner of a type with a lift, dated in its event quarter or the
      ``MDF_STUDY_POST − 1`` after it, have revenue and cost × (1 + lift), rounded to cents.
    """
    if not len(study.partner):
        return mdf, sales
    ids = np.asarray(p.ids, dtype=object)
    study_ids = set(ids[study.partner])
    kept = mdf[~mdf["partner_id"].isin(study_ids)]
    treated = np.array([k is not None for k in study.kind])
    tp, ts = study.partner[treated], study.slot[treated]
    tk = [k for k in study.kind if k is not None]
    quarterly = np.maximum(facts.revenue_eur.mean(axis=1), 2000.0)
    allocated = np.clip(np.round(quarterly[tp] * 0.02, -2), 1000, 150000)
    claimed = np.round(allocated * 0.95, -1)
    k, m = len(mdf), len(tp)
    added = _frame("mdf", {
        "activity_id": _ids("MDF-", np.arange(k + 1, k + m + 1), _width(k + m, 5)),
        "partner_id": _take(p.ids, tp),
        "period": _take(win.labels, ts),
        "activity_type": pd.Series(tk, dtype="str"),
        "allocated": allocated.astype(float),
        "requested": allocated.astype(float),
        "approved": allocated.astype(float),
        "claimed": claimed,
        "attributed_revenue": np.round(claimed * 4.0, -2),
        "currency": pd.Series([REPORTING_CURRENCY] * m, dtype="str"),
    })
    mdf = pd.concat([kept, added], ignore_index=True)

    lift = np.array([MDF_PLANTED_LIFT[x] for x in tk])
    factor = np.ones(len(p.ids))
    first_slot = np.full(len(p.ids), -1)
    factor[tp], first_slot[tp] = 1.0 + lift, ts
    pos = pd.Index(p.ids).get_indexer(sales["partner_id"].astype(str))
    day = ((sales["date"].to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64))
    slot = np.searchsorted(win.starts, day, side="right") - 1
    lines = (first_slot[pos] >= 0) & (slot >= first_slot[pos]) & (slot < first_slot[pos] + MDF_STUDY_POST) \
        & (factor[pos] != 1.0)
    if lines.any():
        sales = sales.copy()
        for col in ("revenue", "cost"):
            values = sales[col].to_numpy(dtype=float, copy=True)
            values[lines] = np.round(values[lines] * factor[pos][lines], 2)
            sales[col] = values
    return mdf, sales


def _trainings(rng: np.random.Generator, p: _Partners, win: _Window) -> tuple[pd.DataFrame, np.ndarray]:
    n = len(p.ids)
    t_first = np.maximum(p.onboard, win.start - 730)
    years = np.maximum(p.last - t_first, 0) / 365.0
    invest = np.where(rng.random(n) < 0.25, 0.1, rng.uniform(0.5, 2.0, n))
    count = rng.poisson(p.reps * invest * years)
    count[p.newbie] = np.maximum(count[p.newbie], 1)
    tp = np.repeat(np.arange(n), count)
    k = len(tp)
    person = 1 + (rng.random(k) * p.reps[tp]).astype(np.int64)
    weights = np.array([c[3] for c in COURSES])
    course = rng.choice(len(COURSES), size=k, p=weights / weights.sum())
    completed = t_first[tp] + (rng.random(k) * (p.last[tp] - t_first[tp] + 1)).astype(np.int64)
    is_cert = np.array([c[1] for c in COURSES])[course]
    validity = np.array([c[2] or 0 for c in COURSES])[course]
    expires = completed + validity
    order = np.lexsort((tp, completed))
    tp, person, course, completed, is_cert, expires = (a[order] for a in (tp, person, course, completed,
                                                                          is_cert, expires))
    person_w = _width(int(p.reps.max()) if n else 1, 2)
    person_ids = pd.Series(pc.binary_join_element_wise(
        pa.array(_take(p.ids, tp).array).cast(pa.string()), pa.scalar("-R"),
        pc.utf8_lpad(pc.cast(pa.array(person), pa.string()), person_w, "0"), ""), dtype="str")
    frame = _frame("trainings", {
        "partner_id": _take(p.ids, tp),
        "person_id": person_ids,
        "course": _take([c[0] for c in COURSES], course),
        "completed_date": _dates(completed),
        "certification": is_cert.astype(bool),
        "expires_date": _dates(expires, is_cert),
    })
    # certified reps at as_of: distinct people with a valid certification
    valid = is_cert & (expires >= win.as_of)
    pairs = np.unique(tp[valid].astype(np.int64) * 1000 + person[valid])
    certified = np.bincount(pairs // 1000, minlength=n)
    return frame, certified


def _surveys(rng: np.random.Generator, p: _Partners, win: _Window) -> pd.DataFrame:
    n, n_slots = len(p.ids), len(win.labels)
    lo, hi = _cells(win, p)
    days = np.maximum(hi - lo + 1, 0)
    med = np.median(p.size)
    rate = rng.lognormal(np.log(3.0), 1.0, n) * (p.size / med) ** 0.3
    rate[p.tiny] = 0.3
    count = rng.poisson(rate[:, None] * days / 91.0).ravel()
    cells = np.repeat(np.arange(n * n_slots), count)
    pi = cells // n_slots
    k = len(cells)
    day = lo.ravel()[cells] + (rng.random(k) * days.ravel()[cells]).astype(np.int64)
    quality = rng.uniform(3.0, 4.7, n)
    csat = np.clip(np.round(rng.normal(quality[pi], 0.9)), 1, 5)
    nps = np.clip(np.round(2.2 * csat - 1 + rng.normal(0, 1.2, k)), 0, 10).astype(np.int64)
    which = rng.random(k)
    no_csat, no_nps = which < 0.08, (which >= 0.08) & (which < 0.2)
    order = np.argsort(day, kind="stable")
    return _frame("surveys", {
        "response_id": _ids("R", np.arange(1, k + 1), _width(k, 6)),
        "partner_id": _take(p.ids, pi[order]),
        "date": _dates(day[order]),
        "csat": np.where(no_csat, np.nan, csat)[order],
        "nps": pd.array(np.where(no_nps, None, nps.astype(object))[order], dtype="Int64"),
    })


def _potential(rng: np.random.Generator, p: _Partners, win: _Window, facts: _SalesFacts) -> pd.DataFrame:
    n, n_slots = len(p.ids), len(win.labels)
    lo, hi = _cells(win, p)
    rev = facts.revenue_eur
    avg = rev.sum(axis=1) / np.maximum((rev > 0).sum(axis=1), 1)
    med = np.median(p.size)
    estimate = np.where(avg > 0, avg, 20000.0 * p.size / med)
    share = np.exp(rng.uniform(np.log(0.05), np.log(0.8), n))  # share of wallet 5 % .. 80 %
    base = estimate / share
    season = np.array([_SEASON[q] for q in win.qnum])
    value = base[:, None] * 1.01 ** np.arange(n_slots) * season * rng.lognormal(0, 0.05, (n, n_slots))
    cells = np.flatnonzero((hi >= lo).ravel())
    pi, si = cells // n_slots, cells % n_slots
    return _frame("potential", {
        "partner_id": _take(p.ids, pi),
        "period": _take(win.labels, si),
        "potential": np.round(value.ravel()[cells], -3).astype(float),
    })


def _program_costs(rng: np.random.Generator, p: _Partners, win: _Window) -> pd.DataFrame:
    n = len(p.ids)
    idx = np.arange(n)
    n_onb = rng.integers(1, 3, n)
    n_train = rng.poisson(2.0, n)
    n_enable = rng.poisson(0.6, n)
    parts = [
        (idx, p.onboard - rng.integers(10, 120, n), 0, rng.uniform(1500, 8000, n)),
    ]
    o = np.repeat(idx, n_onb)
    parts.append((o, p.onboard[o] + rng.integers(0, 60, len(o)), 1, rng.uniform(2000, 12000, len(o))))
    t = np.repeat(idx, n_train)
    parts.append((t, p.onboard[t] + rng.exponential(150, len(t)).astype(np.int64), 2,
                  rng.uniform(400, 3000, len(t))))
    e = np.repeat(idx, n_enable)
    e_day = p.first[e] + (rng.random(len(e)) * np.maximum(p.last[e] - p.first[e] + 1, 1)).astype(np.int64)
    parts.append((e, e_day, 3, rng.uniform(500, 5000, len(e))))
    partner = np.concatenate([a for a, *_ in parts])
    day = np.concatenate([d for _, d, *_ in parts])
    kind = np.concatenate([np.full(len(a), c) for a, _, c, _ in parts])
    amount = np.round(np.concatenate([v for *_, v in parts]), 2)
    keep = (day <= win.as_of) & (day <= p.end[partner])
    order = np.lexsort((partner[keep], day[keep]))
    return _frame("program_costs", {
        "partner_id": _take(p.ids, partner[keep][order]),
        "date": _dates(day[keep][order]),
        "cost_type": _take(["recruiting", "onboarding", "training", "enablement"], kind[keep][order]),
        "amount": amount[keep][order],
    })


# --- end-customer accounts (account coverage) -----------------------------------------------------

#: Seed suffix of the accounts generator's own random generator (the other tables stay as they were).
ACCOUNTS_SEED = 15001
INDUSTRIES = ["Food & beverage", "Automotive", "Packaging", "Logistics", "Pharma", "Water & utilities",
              "Machine building", "Building services"]

#: The planted account movements (money in EUR, the sample's reporting currency): account id →
#: (name, serving partner's rank by size among partners active over the whole history (0 = the
#: largest), annual potential, revenue of each of the last 8 complete quarters, oldest first). With
#: the default accounts parameters and 8 quarters of history they give, in the last quarter:
#: KA-01 promoted growth → key (change_coverage), KA-02 relegated core → digital (hand_over), KA-03
#: promoted digital → core (receive), KA-05 relegated key → growth (change_coverage); KA-04 (around
#: core) and KA-06 (around key) qualify above and below their segment in alternate quarters and
#: never move (anti-flapping). :data:`PLANTED_MOVES` is what a correct analysis finds.
PLANTED_ACCOUNTS: dict[str, tuple[str, int, float, tuple[float, ...]]] = {
    "KA-01": ("Brauerei Kessler AG", 0, 500_000.0, (6e3, 6e3, 6e3, 6e3, 6e3, 6e3, 50e3, 50e3)),
    "KA-02": ("Nordhavn Logistik A/S", 0, 100_000.0, (6e3, 6e3, 6e3, 6e3, 0.0, 0.0, 0.0, 0.0)),
    "KA-03": ("Vidal Envases S.L.", 0, 50_000.0, (1e3, 1e3, 1e3, 1e3, 1e3, 1e3, 10e3, 5e3)),
    "KA-04": ("Kowalski Pakowanie Sp. z o.o.", 1, 100_000.0, (1e3, 3e3, 1e3, 3e3, 4e3, 0.0, 4e3, 0.0)),
    "KA-05": ("Laurent Pharma SAS", 1, 400_000.0, (21e3, 21e3, 21e3, 21e3, 21e3, 0.0, 0.0, 0.0)),
    "KA-06": ("Thames Water Controls Ltd", 2, 400_000.0, (15e3, 15e3, 15e3, 10e3, 22e3, 8e3, 22e3, 4e3)),
}
#: account → (change, from segment, to segment, action) in the last complete quarter; the planted
#: accounts not listed here do not move in it.
PLANTED_MOVES = {
    "KA-01": ("promoted", "growth", "key", "change_coverage"),
    "KA-02": ("relegated", "core", "digital", "hand_over"),
    "KA-03": ("promoted", "digital", "core", "receive"),
    "KA-05": ("relegated", "key", "growth", "change_coverage"),
}


def _planted_partners(p: _Partners, win: _Window) -> np.ndarray:
    """Partners active over the whole history (not churned, not new, not tiny), largest first."""
    steady = ~p.churned & ~p.newbie & ~p.tiny & (p.onboard < win.start) & (p.end >= _FAR)
    idx = np.flatnonzero(steady)
    return idx[np.argsort(-p.size[idx], kind="stable")]


def _accounts(seed: int, p: _Partners, win: _Window, rates: np.ndarray,
              sales: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``accounts`` table and the sales lines of the planted accounts (:data:`PLANTED_ACCOUNTS`),
    drawn from their own random generator so that every other table is unchanged.

    Every customer of ``sales`` gets an account row (3 % are left out: accounts the CRM does not
    know), with an industry, a head count and a potential of about four times its yearly revenue
    (5 % unknown); the planted accounts get one line per quarter with revenue, in their serving
    partner's currency, on the 15th of the quarter's second month."""
    rng = np.random.default_rng([int(seed), ACCOUNTS_SEED])
    cust = sales["customer_id"].astype(str).to_numpy()
    ids, inv = np.unique(cust, return_inverse=True)
    pos = {pid: i for i, pid in enumerate(p.ids)}
    part = sales["partner_id"].map(pos).to_numpy(dtype=np.int64)
    slot = np.searchsorted(win.starts, (sales["date"].to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64),
                           side="right") - 1
    eur = sales["revenue"].to_numpy(dtype=float) * rates[p.currency[part], slot]
    yearly = np.bincount(inv, weights=eur, minlength=len(ids)) * 4.0 / max(win.complete, 1)
    potential = np.round(yearly * rng.lognormal(np.log(4.0), 0.7, len(ids)), -3)
    potential[rng.random(len(ids)) < 0.05] = np.nan
    known = rng.random(len(ids)) >= 0.03
    industry = rng.integers(len(INDUSTRIES), size=len(ids))
    employees = np.round(rng.lognormal(np.log(80.0), 1.2, len(ids))).astype(np.int64) + 1
    coverage = np.select([potential >= 300_000, potential >= 150_000], ["key_account_rep", "partner_managed"],
                         "inside_sales").astype(object)
    coverage[np.isnan(potential)] = None

    hosts = _planted_partners(p, win)
    labels = win.labels[:win.complete][-8:]
    slots = np.arange(win.complete)[-8:]
    rows = {k: [] for k in ("customer_id", "partner", "slot", "eur")}
    for acc, (_, rank, _, revenue) in PLANTED_ACCOUNTS.items():
        if rank >= len(hosts):
            continue
        for s_, r in zip(slots, revenue[-len(labels):]):
            if r > 0:
                rows["customer_id"].append(acc)
                rows["partner"].append(hosts[rank])
                rows["slot"].append(s_)
                rows["eur"].append(r)
    pl = {k: np.asarray(v) for k, v in rows.items()}
    m = len(pl["eur"])
    planted_part = pl["partner"].astype(np.int64) if m else np.zeros(0, dtype=np.int64)
    planted_slot = pl["slot"].astype(np.int64) if m else np.zeros(0, dtype=np.int64)
    day = win.starts[planted_slot] + 45 if m else np.zeros(0, dtype=np.int64)
    rate = rates[p.currency[planted_part], planted_slot]
    revenue = np.round(pl["eur"].astype(float) / rate, 2) if m else np.zeros(0)
    channel = sales.drop_duplicates("partner_id").set_index("partner_id")["channel"]
    host_ids = _take(p.ids, planted_part)
    lines = _frame("sales", {
        "line_id": _ids("SLK", np.arange(1, m + 1), 4),
        "date": _dates(day),
        "partner_id": host_ids,
        "customer_id": pd.Series(pl["customer_id"] if m else [], dtype="str"),
        "product_id": pd.Series(["SKU-1101"] * m, dtype="str"),
        "category": pd.Series([CATEGORIES[0][0]] * m, dtype="str"),
        "quantity": np.ones(m, dtype=np.int64),
        "revenue": revenue,
        "cost": np.round(revenue * 0.62, 2),
        "currency": _take(CURRENCIES, p.currency[planted_part]),
        "registered_units": np.zeros(m, dtype=np.int64),
        "registered_date": _dates(day, np.zeros(m, dtype=bool)),
        "channel": pd.Series(host_ids.map(channel).to_numpy(dtype=object), dtype="str"),
    })
    planted = list(PLANTED_ACCOUNTS)
    frame = _frame("accounts", {
        "customer_id": pd.Series([*ids[known], *planted], dtype="str"),
        "name": pd.Series([None] * int(known.sum()) + [PLANTED_ACCOUNTS[a][0] for a in planted], dtype=object),
        "industry": pd.Series([*_take(INDUSTRIES, industry[known]), *["Food & beverage"] * len(planted)],
                              dtype="str"),
        "employees": pd.array([*employees[known], *[250] * len(planted)], dtype="Int64"),
        "potential": np.array([*potential[known], *[PLANTED_ACCOUNTS[a][2] for a in planted]], dtype=float),
        "coverage": pd.Series([*coverage[known], *["partner_managed"] * len(planted)], dtype=object),
    })
    return frame, lines
# --- planted churn signal (issue 15: churn risk) -------------------------------------------------

#: Churned partners' sales fade before they leave: every sales line of a churned partner dated in
#: the ``CHURN_FADE_DAYS`` days before its ``end_date`` keeps ``CHURN_FADE_KEEP`` of its revenue and
#: cost (no other row of any table changes). The churn model (channel_analysis.churn) should find
#: it: falling revenue before the quarter raises the hazard (tests/test_churn.py).
CHURN_FADE_DAYS = 180
CHURN_FADE_KEEP = 0.35


def _churn_fade(sales: pd.DataFrame, partners: pd.DataFrame) -> pd.DataFrame:
    """``sales`` with the planted fade of churned partners (:data:`CHURN_FADE_DAYS`,
    :data:`CHURN_FADE_KEEP`); deterministic, so it draws nothing from the generator."""
    end = partners.set_index("partner_id")["end_date"]
    end = pd.to_datetime(end[end.notna()])
    if not len(end) or not len(sales):
        return sales
    line_end = pd.to_datetime(sales["partner_id"].map(end))
    date = pd.to_datetime(sales["date"])
    fade = (line_end.notna() & (date <= line_end)
            & (date > line_end - pd.Timedelta(days=CHURN_FADE_DAYS))).to_numpy()
    if not fade.any():
        return sales
    out = sales.copy()
    for col in ("revenue", "cost"):
        values = out[col].to_numpy(dtype=float, copy=True)
        values[fade] = np.round(values[fade] * CHURN_FADE_KEEP, 2)
        out[col] = values
    return out


# --- public API ----------------------------------------------------------------------------------

# --- the partner programme (issue 15): ratings, rebates, benefits ----------------------------------
# Drawn with their own random generator (``default_rng([seed, PROGRAMME_STREAM])``), so every table
# above stays byte-identical to a sample made before these tables existed.

PROGRAMME_STREAM = 15
#: Criteria the sample rates (geography_fit, the fourth default criterion, is rated for nobody).
RATED_CRITERIA = ("brand_image", "willingness", "sector_potential")
#: The raters; in a rating round their scores are true score −1, +0, +1 in a random order, so the
#: mean over raters is exactly the partner's planted true score (2, 3 or 4 on the 1..5 scale).
RATERS = ("Channel manager", "Regional director", "Sales engineer")
#: Share of partners rated at all; of those, the share whose latest round is the quarter before the
#: reported one (its scorecard names that quarter). Every rated partner also has an older round,
#: two quarters before its latest, with every score 1: superseded, it never counts.
RATED_SHARE, STALE_SHARE = 0.8, 0.25
#: Rebate schedule: tier → [(quarter revenue threshold in EUR, rate of the whole quarter revenue)].
REBATES = {"Registered": [(0.0, 0.0)], "Silver": [(0.0, 0.01), (100000.0, 0.02)],
           "Gold": [(0.0, 0.02), (250000.0, 0.03)], "Platinum": [(0.0, 0.03), (500000.0, 0.04)]}
#: Benefits per tier: tier → [(benefit, value per quarter in EUR)]; Registered has none.
BENEFITS = {"Silver": [("Sales tools", 500.0)],
            "Gold": [("Sales tools", 500.0), ("Marketing kit", 1500.0)],
            "Platinum": [("Sales tools", 500.0), ("Marketing kit", 1500.0), ("Dedicated hotline", 2500.0),
                         ("Factory contact", 3000.0)]}


def _programme(seed: int, p: _Partners, win: _Window) -> dict[str, pd.DataFrame]:
    """partner_ratings, rebates and benefits (constants above; ratings from their own generator).

    A partner's planted true score on brand_image rises with its size (2, 3, 4 by size tercile);
    willingness and sector_potential are drawn from 2..4. Churned partners are not rated.
    """
    rng = np.random.default_rng([int(seed), PROGRAMME_STREAM])
    n = len(p.ids)
    reported = win.complete - 1  # the slot of the last complete quarter
    rated = (rng.random(n) < RATED_SHARE) & ~p.churned
    stale = (rng.random(n) < STALE_SHARE) & (reported >= 1)
    size_rank = pd.Series(p.size).rank(method="first").to_numpy() / max(n, 1)
    true = {"brand_image": 2 + np.searchsorted([1 / 3, 2 / 3], size_rank, side="left"),
            "willingness": rng.integers(2, 5, n), "sector_potential": rng.integers(2, 5, n)}
    rows = {"partner_id": [], "period": [], "criterion": [], "score": [], "rater": []}
    for i in np.flatnonzero(rated):
        latest = reported - 1 if stale[i] else reported
        for c in RATED_CRITERIA:
            offsets = rng.permutation([-1, 0, 1])
            rounds = [(latest, true[c][i] + offsets)]
            if latest >= 2:
                rounds.append((latest - 2, np.ones(len(RATERS))))
            for slot, scores in rounds:
                for rater, score in zip(RATERS, scores):
                    rows["partner_id"].append(p.ids[i])
                    rows["period"].append(win.labels[slot])
                    rows["criterion"].append(c)
                    rows["score"].append(float(score))
                    rows["rater"].append(rater)
    ratings = _frame("partner_ratings", {k: pd.Series(v, dtype=float if k == "score" else "str")
                                         for k, v in rows.items()})
    reb = [(t, th, r) for t, steps in REBATES.items() for th, r in steps]
    ben = [(t, b, v) for t, items in BENEFITS.items() for b, v in items]
    return {
        "partner_ratings": ratings,
        "rebates": _frame("rebates", {"tier": pd.Series([r[0] for r in reb], dtype="str"),
                                      "rate": [r[2] for r in reb], "threshold": [r[1] for r in reb]}),
        "benefits": _frame("benefits", {"tier": pd.Series([b[0] for b in ben], dtype="str"),
                                        "benefit": pd.Series([b[1] for b in ben], dtype="str"),
                                        "value": [b[2] for b in ben]}),
    }


def generate(
    partners: int = 200,
    quarters: int = 8,
    seed: int = 7,
    as_of: str | dt.date = "2026-10-05",
    lines: int | None = None,
) -> dict[str, pd.DataFrame]:
    """A complete, valid sample dataset: table name → frame for every table of ``schema.TABLES``.

    History covers ``quarters`` complete calendar quarters ending with the last complete quarter
    before ``as_of``, plus the days of the current quarter up to ``as_of``; no date lies after
    ``as_of`` except expected close and certification expiry dates. ``lines`` is the approximate
    number of sales lines (default ``LINES_PER_PARTNER_QUARTER`` per partner and quarter). Money
    is in each partner's currency (sales, deals) or EUR (targets, MDF, potential, program costs).
    The same arguments always give the same frames.
    """
    if int(partners) < 1:
        raise ParamsError(f"sample: --partners must be at least 1, got {partners}")
    if int(quarters) < 1:
        raise ParamsError(f"sample: --quarters must be at least 1, got {quarters}")
    if lines is not None and int(lines) < 0:
        raise ParamsError(f"sample: --lines must be 0 or more, got {lines}")
    try:
        as_of_ts = pd.Timestamp(as_of if as_of is not None else "2026-10-05").normalize()
    except (ValueError, TypeError):
        raise ParamsError(f"sample: as_of {as_of!r} is not a date; write it as YYYY-MM-DD") from None
    n_lines = int(lines) if lines is not None else LINES_PER_PARTNER_QUARTER * int(partners) * int(quarters)

    rng = np.random.default_rng(int(seed))
    win = _window(as_of_ts, int(quarters))
    p = _partners(rng, int(partners), win)
    rates, fx = _fx(rng, win)
    contacts = _contacts(rng, p)
    sales, facts = _sales(rng, p, win, rates, n_lines)
    opps, stages, opp_partner, opp_created = _opportunities(rng, p, win, rates, facts)
    leads = _leads(rng, p, win, opp_partner, opp_created, opps["opportunity_id"])
    trainings, certified = _trainings(rng, p, win)
    tables = {
        "partners": p.frame,
        "partner_contacts": contacts,
        "sales": _churn_fade(sales, p.frame),
        "opportunities": opps,
        "opportunity_stages": stages,
        "leads": leads,
        "targets": _targets(rng, p, win, facts, certified),
        "mdf": _mdf(rng, p, win, facts),
        "trainings": trainings,
        "surveys": _surveys(rng, p, win),
        "potential": _potential(rng, p, win, facts),
        "program_costs": _program_costs(rng, p, win),
        "fx_rates": fx,
        **_programme(int(seed), p, win),
    }
    # the planted MDF experiment (own random stream; changes only the rows _with_mdf_study names),
    # before the planted accounts' lines are added: those keep their planted values exactly
    tables["mdf"], sales = _with_mdf_study(tables["mdf"], tables["sales"], _mdf_study(int(seed), p, win), p, win,
                                           facts)
    accounts, planted_lines = _accounts(int(seed), p, win, rates, sales)
    tables["sales"] = pd.concat([sales, planted_lines], ignore_index=True)
    tables["accounts"] = accounts
    return {name: tables[name] for name in TABLES}


def _looks_generated(folder: Path) -> bool:
    """True if ``folder`` holds nothing but a previous sample (so it may be replaced)."""
    allowed = {f"{name}{ext}" for name in TABLES for ext in (".parquet", ".csv")}
    allowed |= {COMPLETE_MARKER, "channel.duckdb", "channel.duckdb.wal"}
    return all(entry.name in allowed for entry in folder.iterdir())


def write(tables: dict[str, pd.DataFrame], out: Path, fmt: str = "parquet") -> Path:
    """Write ``tables`` to the folder ``out`` (one file per table, or ``channel.duckdb``).

    The tables are written into a temporary sibling folder that then replaces ``out``, so a
    reader never sees a half-written sample; ``out/.complete`` marks it finished. An existing
    ``out`` that holds anything but a previous sample is refused (nothing of yours is deleted).
    Returns ``out``.
    """

    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise DataSourceError(f"sample: {out} exists and is not a folder; choose another --out")
    if out.is_dir() and not _looks_generated(out):
        raise DataSourceError(
            f"sample: {out} holds files that are not a generated sample; refusing to replace it. "
            "Choose an empty or new --out folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()  # (not mkdtemp: the folder gets the usual permissions)
    old = None
    try:
        write_tables(tables, tmp, fmt)
        (tmp / COMPLETE_MARKER).write_text("", encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    os.utime(out / COMPLETE_MARKER)
    return out
