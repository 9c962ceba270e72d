"""The thresholds a report applies, as one typed, validated object (no free-form dict, no defaults here).

:class:`ReportSettings` is built once per run from the parameters (``ReportSettings.from_params``),
checked there, written into every bundle, and read by the pages. Every value is a documented key of
``params/defaults.yaml``; no default is repeated in code: a missing key is an error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from .errors import ParamsError

#: Kinds of data values that ``labels`` translate (params ``labels.<kind>.<language>.<value>``).
LABEL_KINDS = ("stage", "category", "tier", "action", "partner_type", "region", "country")
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
