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
LABEL_KINDS = ("stage", "category", "tier", "action", "partner_type", "region", "country", "segment")

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
                   promote_after=a["promote_after"], relegate_after=a["relegate_after"])

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
