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
LABEL_KINDS = ("stage", "category", "tier", "action", "partner_type", "region", "country")

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
