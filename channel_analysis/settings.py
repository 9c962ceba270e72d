"""The thresholds a report applies, as one typed, validated object (no free-form dict, no defaults here).

:class:`ReportSettings` is built once per run from the parameters (``ReportSettings.from_params``),
checked there, written into every bundle, and read by the pages. Every value is a documented key of
``params/defaults.yaml``; no default is repeated in code: a missing key is an error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from .errors import ParamsError
from .measures import MEASURES

#: Kinds of data values that ``labels`` translate (params ``labels.<kind>.<language>.<value>``).
LABEL_KINDS = ("stage", "category", "tier", "action", "partner_type", "region", "country", "segment")
#: Label kinds of the partner programme (issue 15): rating criteria and treatment names/contents.
LABEL_KINDS += ("criterion", "treatment")

#: The kinds of gap the "focus for next quarter" list ranks (``report.focus_weights``), in tie order.
FOCUS_RULES = ("target", "tier", "stale", "registration", "mdf", "leads", "coverage", "satisfaction", "benchmark")


@dataclass(frozen=True)
class ReportSettings:
    """Thresholds used on the pages; see ``params/defaults.yaml`` for each key's meaning.

    ``min_sample`` (kpis.min_sample), ``target_green`` / ``target_amber`` (kpis.target_status),
    ``forecast_interval`` / ``forecast_min_history`` / ``forecast_min_quarters`` (forecast.*), ``promote_after`` /
    ``relegate_after`` / ``tier_levels`` (tiers.*), ``min_peers`` (benchmarks.min_peers),
    ``locale_fallback`` (locale.fallback), ``focus_weights`` / ``mdf_use_min`` / ``benchmark_low``
    (report.*).
    """

    min_sample: int
    target_green: float
    target_amber: float
    forecast_interval: float
    forecast_min_history: int
    forecast_min_quarters: int
    promote_after: int
    relegate_after: int
    tier_levels: tuple[str, ...]
    min_peers: int
    locale_fallback: str
    mdf_use_min: float
    benchmark_low: float
    focus_weights: Mapping[str, float] = field(default_factory=dict)
    labels: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier_levels", tuple(self.tier_levels))
        object.__setattr__(self, "focus_weights", dict(self.focus_weights))
        problems = []
        labels = {}
        for kind, languages in (self.labels or {}).items():
            if kind not in LABEL_KINDS:
                problems.append(f"labels.{kind}: unknown kind (known: {', '.join(LABEL_KINDS)})")
                continue
            if not isinstance(languages, Mapping) or not all(
                    isinstance(words, Mapping) for words in languages.values()):
                problems.append(f"labels.{kind} must map a language (fr, de_AT, …) to {{value in the data: text}}")
                continue
            labels[str(kind)] = {str(lang): {str(v): str(w) for v, w in words.items()}
                                 for lang, words in languages.items()}
        object.__setattr__(self, "labels", labels)
        if self.min_sample < 1:
            problems.append(f"kpis.min_sample must be ≥ 1, got {self.min_sample}")
        if not 0 <= self.target_amber <= self.target_green:
            problems.append("kpis.target_status needs 0 ≤ amber ≤ green, got "
                            f"amber {self.target_amber}, green {self.target_green}")
        if not 0 < self.forecast_interval < 1:
            problems.append(f"forecast.interval must lie between 0 and 1, got {self.forecast_interval}")
        if self.forecast_min_quarters < 1:
            problems.append(f"forecast.min_quarters must be ≥ 1, got {self.forecast_min_quarters}")
        if self.promote_after < 1 or self.relegate_after < 1:
            problems.append("tiers.promote_after and tiers.relegate_after must be ≥ 1")
        if self.min_peers < 1:
            problems.append(f"benchmarks.min_peers must be ≥ 1, got {self.min_peers}")
        if not 0 <= self.mdf_use_min <= 1:
            problems.append(f"report.mdf_use_min must lie between 0 and 1, got {self.mdf_use_min}")
        if not 0 <= self.benchmark_low <= 100:
            problems.append(f"report.benchmark_low is a percentile 0..100, got {self.benchmark_low}")
        missing = [r for r in FOCUS_RULES if r not in self.focus_weights]
        extra = [r for r in self.focus_weights if r not in FOCUS_RULES]
        if missing or extra:
            problems.append(f"report.focus_weights must weigh exactly {', '.join(FOCUS_RULES)} "
                            f"(missing: {missing or 'none'}, unknown: {extra or 'none'})")
        if any(not isinstance(w, (int, float)) or w < 0 for w in self.focus_weights.values()):
            problems.append("report.focus_weights must be non-negative numbers")
        if problems:
            raise ParamsError("invalid report settings: " + "; ".join(problems))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ReportSettings:
        """The settings of a run, read from its merged parameters (defaults.yaml ← run file ← CLI)."""
        k, report = params["kpis"], params["report"]
        return cls(
            min_sample=int(k["min_sample"]),
            target_green=float(k["target_status"]["green"]),
            target_amber=float(k["target_status"]["amber"]),
            forecast_interval=float(params["forecast"]["interval"]),
            forecast_min_history=int(params["forecast"]["min_history"]),
            forecast_min_quarters=int(params["forecast"]["min_quarters"]),
            promote_after=int(params["tiers"]["promote_after"]),
            relegate_after=int(params["tiers"]["relegate_after"]),
            tier_levels=tuple(str(level["name"]) for level in params["tiers"]["levels"]),
            min_peers=int(params["benchmarks"]["min_peers"]),
            locale_fallback=str(params["locale"]["fallback"]),
            mdf_use_min=float(report["mdf_use_min"]),
            benchmark_low=float(report["benchmark_low"]),
            focus_weights={str(r): float(w) for r, w in report["focus_weights"].items()},
            labels=params["labels"],
        )

    def label(self, kind: str, value: object, locale: str) -> str:
        """The words for a data value (a stage, category, tier, …) in ``locale`` ("de_AT" tries
        "de_AT", then "de"); the value itself when no map has it."""
        text = "" if value is None else str(value)
        maps = self.labels.get(kind, {})
        for lang in (locale, locale.split("_")[0]):
            if lang in maps and text in maps[lang]:
                return maps[lang][text]
        return text

    def to_dict(self) -> dict:
        """JSON-ready (bundles store it as JSON)."""
        out = asdict(self)
        out["tier_levels"] = list(self.tier_levels)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportSettings:
        """The inverse of :meth:`to_dict` (unknown keys are an error: a bundle from another version)."""
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise ParamsError(f"report settings in the bundle do not match this version: {exc}") from None


#: Who works the accounts of a coverage model (params ``accounts.coverage_models``).
COVERAGE_OWNERS = ("partner", "manufacturer")


@dataclass(frozen=True)
class AccountSegment:
    """One account segment (params ``accounts.segments``): its name, the coverage model that works
    its accounts, and its own minimums (``None``: no minimum on that criterion)."""

    name: str
    coverage: str
    min_value: float | None = None
    min_potential: float | None = None


@dataclass(frozen=True)
class AccountSettings:
    """Account coverage parameters (params ``accounts``), checked once: segments lowest first,
    coverage model → owner (``partner`` | ``manufacturer``), anti-flapping runs. No default here:
    every value comes from ``params/defaults.yaml`` or the run file."""

    segments: tuple[AccountSegment, ...]
    coverage_models: Mapping[str, str]
    promote_after: int
    relegate_after: int
    #: moves the overview lists, largest revenue first (all of them are exported)
    overview_moves: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))
        object.__setattr__(self, "coverage_models", dict(self.coverage_models))
        problems = []
        names = [s.name for s in self.segments]
        if not names:
            problems.append("accounts.segments must list at least one segment, lowest first")
        if len(set(names)) != len(names):
            problems.append(f"accounts.segments: a segment name appears twice ({', '.join(names)})")
        for i, seg in enumerate(self.segments):
            for key in ("min_value", "min_potential"):
                v = getattr(seg, key)
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0):
                    problems.append(f"accounts.segments[{i}] ({seg.name}).{key} must be a number ≥ 0, got {v!r}")
            if i == 0 and (seg.min_value is not None or seg.min_potential is not None):
                problems.append(f"accounts.segments[0] ({seg.name}) has a minimum; the lowest segment must have none")
            if seg.coverage not in self.coverage_models:
                problems.append(f"accounts.segments[{i}] ({seg.name}).coverage {seg.coverage!r} is not a model of "
                                f"accounts.coverage_models ({', '.join(map(str, self.coverage_models)) or 'none'})")
        bad = {m: o for m, o in self.coverage_models.items() if o not in COVERAGE_OWNERS}
        if bad:
            problems.append(f"accounts.coverage_models: each model is worked by {' or '.join(COVERAGE_OWNERS)}, "
                            f"got {bad}")
        for key in ("promote_after", "relegate_after"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                problems.append(f"accounts.{key} must be a whole number ≥ 1, got {v!r}")
        v = self.overview_moves
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            problems.append(f"accounts.overview_moves must be a whole number ≥ 0, got {v!r}")
        if problems:
            raise ParamsError("invalid account coverage settings: " + "; ".join(problems))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AccountSettings:
        """The account settings of a run, read from its merged parameters."""
        a = params["accounts"]
        segments = []
        for i, seg in enumerate(a["segments"] or []):
            if not isinstance(seg, Mapping) or "name" not in seg or "coverage" not in seg:
                raise ParamsError(f"accounts.segments[{i}] must be a mapping with 'name' and 'coverage' "
                                  "(and optionally min_value, min_potential)")
            unknown = set(seg) - {"name", "coverage", "min_value", "min_potential"}
            if unknown:
                raise ParamsError(f"accounts.segments[{i}]: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                                  "(known: name, coverage, min_value, min_potential)")
            segments.append(AccountSegment(str(seg["name"]), str(seg["coverage"]), seg.get("min_value"),
                                           seg.get("min_potential")))
        return cls(segments=tuple(segments),
                   coverage_models={str(k): str(v) for k, v in (a["coverage_models"] or {}).items()},
                   promote_after=a["promote_after"], relegate_after=a["relegate_after"],
                   overview_moves=a["overview_moves"])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.segments)

    def levels(self, *, potential: bool = True) -> list[dict]:
        """The segments as tier levels (``tiers.parse_levels``): criteria ``value`` and, when
        ``potential``, ``potential``."""
        out = []
        for s in self.segments:
            crit = {"value": s.min_value, **({"potential": s.min_potential} if potential else {})}
            out.append({"name": s.name, "criteria": {k: float(v) for k, v in crit.items() if v is not None}})
        return out


#: Segment keys that may decide a partner's treatment (``programme.treatment_by``).
TREATMENT_KEYS = ("abc_class", "action")


@dataclass(frozen=True)
class Treatment:
    """One treatment of the partner programme (``programme.treatments.<id>``): its id, the name and
    the contents shown to the partner (English texts; translated with ``labels.treatment``)."""

    id: str
    name: str
    contents: str


@dataclass(frozen=True)
class ProgrammeSettings:
    """The partner programme's parameters (``programme.*`` in ``params/defaults.yaml``), validated once.

    ``rating_criteria``: criteria of ``partner_ratings``; ``rating_scale``: (lowest, highest) score;
    ``treatment_by``: the segment key deciding the treatment (:data:`TREATMENT_KEYS`);
    ``treatment_map``: segment value → treatment id; ``treatments``: the treatments, by id.
    """

    rating_criteria: tuple[str, ...]
    rating_scale: tuple[float, float]
    treatment_by: str
    treatment_map: Mapping[str, str]
    treatments: tuple[Treatment, ...]

    def __post_init__(self) -> None:
        problems = []
        if not self.rating_criteria or len(set(self.rating_criteria)) != len(self.rating_criteria):
            problems.append("programme.rating_criteria must list distinct criterion names")
        bad = [c for c in self.rating_criteria if not str(c).replace("_", "").isalnum() or str(c) != str(c).lower()]
        if bad:
            problems.append(f"programme.rating_criteria: names must be lower-case letters, digits and _, got {bad}")
        lo, hi = self.rating_scale
        if not lo < hi:
            problems.append(f"programme.rating_scale must be [lowest, highest] with lowest < highest, got {[lo, hi]}")
        if self.treatment_by not in TREATMENT_KEYS:
            problems.append(f"programme.treatment_by must be one of {', '.join(TREATMENT_KEYS)}, "
                            f"got {self.treatment_by!r}")
        ids = [t.id for t in self.treatments]
        unknown = sorted({v for v in self.treatment_map.values() if v not in ids})
        if unknown:
            problems.append(f"programme.treatment_map names treatments not defined under programme.treatments: "
                            f"{unknown} (defined: {ids})")
        if any(not t.name or not t.contents for t in self.treatments):
            problems.append("programme.treatments: every treatment needs a name and contents")
        if problems:
            raise ParamsError("invalid programme settings: " + "; ".join(problems))

    def treatment(self, segment: object) -> Treatment | None:
        """The treatment of a segment value (an ABC class or an action); None when it has none."""
        tid = self.treatment_map.get("" if segment is None else str(segment))
        return next((t for t in self.treatments if t.id == tid), None)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ProgrammeSettings:
        """The programme settings of a run (its merged parameters); a ParamsError naming the key."""
        p = params["programme"]
        try:
            scale = tuple(float(x) for x in p["rating_scale"])
            if len(scale) != 2:
                raise ValueError
        except (TypeError, ValueError):
            raise ParamsError(f"programme.rating_scale must be two numbers [lowest, highest], "
                              f"got {p['rating_scale']!r}") from None
        treatments = []
        for tid, spec in (p["treatments"] or {}).items():
            if not isinstance(spec, Mapping) or set(spec) - {"name", "contents"}:
                raise ParamsError(f"programme.treatments.{tid} must be {{name: ..., contents: ...}}, got {spec!r}")
            treatments.append(Treatment(str(tid), str(spec.get("name") or ""), str(spec.get("contents") or "")))
        return cls(rating_criteria=tuple(str(c) for c in (p["rating_criteria"] or ())), rating_scale=scale,
                   treatment_by=str(p["treatment_by"]),
                   treatment_map={str(k): str(v) for k, v in (p["treatment_map"] or {}).items()},
                   treatments=tuple(treatments))


#: What MDF incrementality may match partners on (``mdf.incrementality.match_on``): the tier this
#: quarter, the ABC class, or a column of ``partners``.
MATCH_ATTRIBUTES = ("tier", "abc_class", "partner_type", "region", "country")


@dataclass(frozen=True)
class IncrementalitySettings:
    """The design of the MDF incrementality comparison (``mdf.incrementality`` in
    ``params/defaults.yaml``; method in docs/methods.md): window lengths in quarters, the minimum
    group sizes for an estimate, the number of size bands, the matching attributes and the
    confidence level of the intervals."""

    pre_quarters: int
    post_quarters: int
    min_treated: int
    min_controls: int
    size_bands: int
    match_on: tuple[str, ...]
    confidence: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "match_on", tuple(str(m) for m in self.match_on))
        problems = []
        for name in ("pre_quarters", "post_quarters", "min_treated", "min_controls", "size_bands"):
            if getattr(self, name) < 1:
                problems.append(f"mdf.incrementality.{name} must be ≥ 1, got {getattr(self, name)}")
        if not 0 < self.confidence < 1:
            problems.append(f"mdf.incrementality.confidence must lie between 0 and 1, got {self.confidence}")
        unknown = [m for m in self.match_on if m not in MATCH_ATTRIBUTES]
        if unknown or len(set(self.match_on)) != len(self.match_on):
            problems.append(f"mdf.incrementality.match_on takes each of {', '.join(MATCH_ATTRIBUTES)} at most "
                            f"once, got {list(self.match_on)}")
        if problems:
            raise ParamsError("invalid MDF incrementality settings: " + "; ".join(problems))

    def to_dict(self) -> dict:
        """JSON-ready (the network bundle's notes carry it)."""
        return {**asdict(self), "match_on": list(self.match_on)}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> IncrementalitySettings:
        """The settings of a run, read from its merged parameters."""
        c = params["mdf"]["incrementality"]
        return cls(pre_quarters=int(c["pre_quarters"]), post_quarters=int(c["post_quarters"]),
                   min_treated=int(c["min_treated"]), min_controls=int(c["min_controls"]),
                   size_bands=int(c["size_bands"]), match_on=tuple(c["match_on"]),
                   confidence=float(c["confidence"]))
@dataclass(frozen=True)
class TenureSettings:
    """Tenure-aware benchmarks and activation (:mod:`channel_analysis.tenure`), typed and checked once.

    ``bands`` (``benchmarks.tenure_bands``): the last quarter of partnership of each tenure cohort,
    strictly increasing whole numbers ≥ 1 — ``(1, 2, 4, 8)`` gives the cohorts "1", "2", "3–4",
    "5–8" and "9+"; ``min_peers`` (``benchmarks.min_peers``): a cohort figure needs that many
    partners with a value; ``min_sample`` (``kpis.min_sample``): an onboarding-year activation
    curve is drawn for a year with at least that many partners.
    """

    bands: tuple[int, ...]
    min_peers: int
    min_sample: int

    def __post_init__(self) -> None:
        bands = tuple(self.bands)
        object.__setattr__(self, "bands", bands)
        whole = all(isinstance(b, int) and not isinstance(b, bool) for b in bands)
        if not bands or not whole or bands[0] < 1 or any(b <= a for a, b in zip(bands, bands[1:])):
            raise ParamsError("benchmarks.tenure_bands must be a non-empty list of strictly increasing whole "
                              f"numbers ≥ 1 (the last quarter of each tenure cohort), got {list(bands)!r}")
        if self.min_peers < 1:
            raise ParamsError(f"benchmarks.min_peers must be ≥ 1, got {self.min_peers}")
        if self.min_sample < 1:
            raise ParamsError(f"kpis.min_sample must be ≥ 1, got {self.min_sample}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TenureSettings:
        bands = params["benchmarks"]["tenure_bands"]
        if not isinstance(bands, (list, tuple)):
            raise ParamsError(f"benchmarks.tenure_bands must be a list such as [1, 2, 4, 8], got {bands!r}")
        return cls(bands=tuple(bands), min_peers=int(params["benchmarks"]["min_peers"]),
                   min_sample=int(params["kpis"]["min_sample"]))
#: Windows a churn covariate may read (``churn.covariates``: ``<measure>_<window>``); a
#: fiscal-year-to-date value changes length through the year, so it is not one.
CHURN_WINDOWS = ("quarter", "t4q")


@dataclass(frozen=True)
class ChurnSettings:
    """The churn model's parameters (``churn.*`` in ``params/defaults.yaml``), validated once.

    ``covariates``: KPI-table columns and windows the model may use, each ``<measure>_<window>``
    (those the data do not provide are left out); ``backtest_quarters``: held-out quarters of the
    backtest; ``bins``: bands of the calibration table; ``min_events``: churns needed to fit;
    ``drivers``: drivers listed per partner.
    """

    covariates: tuple[str, ...]
    backtest_quarters: int
    bins: int
    min_events: int
    drivers: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", tuple(str(c) for c in self.covariates))
        problems = []
        for name in self.covariates:
            measure, _, window = name.rpartition("_")
            m = MEASURES.get(measure)
            if m is None or m.table != "kpis" or window not in CHURN_WINDOWS:
                problems.append(f"churn.covariates: {name!r} is not <measure>_<window> with a KPI-table measure "
                                f"of docs/kpis.md and a window of {', '.join(CHURN_WINDOWS)} (e.g. revenue_t4q)")
        if len(set(self.covariates)) != len(self.covariates):
            problems.append("churn.covariates lists a covariate twice")
        if self.backtest_quarters < 0:
            problems.append(f"churn.backtest_quarters must be ≥ 0, got {self.backtest_quarters}")
        if self.bins < 1:
            problems.append(f"churn.bins must be ≥ 1, got {self.bins}")
        if self.min_events < 1:
            problems.append(f"churn.min_events must be ≥ 1, got {self.min_events}")
        if self.drivers < 0:
            problems.append(f"churn.drivers must be ≥ 0, got {self.drivers}")
        if problems:
            raise ParamsError("invalid churn settings: " + "; ".join(problems))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ChurnSettings:
        c = params["churn"]
        return cls(covariates=tuple(c["covariates"]), backtest_quarters=int(c["backtest_quarters"]),
                   bins=int(c["bins"]), min_events=int(c["min_events"]), drivers=int(c["drivers"]))
