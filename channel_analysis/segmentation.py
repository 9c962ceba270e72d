"""Segmentation of the partner network: Pareto/ABC, Lorenz/Gini, weighted score, performance × potential.

Every function works on the KPI table (one row per partner × ``period`` × ``window``, see
``docs/kpis.md``) and by default on the trailing-four-quarter rows (``window="t4q"``) of one
period (``period=None``: the latest period in the table). Definitions are in
``docs/statistics.md`` ("Segmentation, tiers and benchmarks").

Criterion names. A name is a KPI column (``revenue``). A name that is not a column but ends in a
window suffix (``revenue_t4q``, ``revenue_quarter``, ``revenue_ytd``) reads that column from the
rows of that window for the same partner and period — the way ``params/defaults.yaml`` names its
criteria. Anything else raises :class:`~channel_analysis.errors.ParamsError` naming the criterion.

Nothing here imports scipy or statsmodels; inputs are never modified.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import DataValidationError, ParamsError

WINDOWS = ("quarter", "ytd", "t4q")
KEY_COLUMNS = ("partner_id", "period", "window", "period_start", "period_end")
LEVELS3 = ("low", "medium", "high")
#: Action of a partner whose potential is unknown (no ``potential`` value), unless
#: ``matrix_actions`` has a ``"<performance>_unknown"`` entry.
UNKNOWN_POTENTIAL_ACTION = "Assess potential"
#: Action of a partner without a score (none of the score's criteria has a value).
UNKNOWN_PERFORMANCE_ACTION = "Assess performance"


# --------------------------------------------------------------------------------------------
# reading criteria from the KPI table
# --------------------------------------------------------------------------------------------


def _available(kpis: pd.DataFrame) -> str:
    cols = [c for c in kpis.columns if c not in KEY_COLUMNS]
    return ", ".join(map(str, cols)) or "(none)"


def _rows(kpis: pd.DataFrame, *, period: str | None, window: str | None, one_period: bool) -> pd.DataFrame:
    """Rows of one window (when the table has a ``window`` column) and one or all periods."""
    if "partner_id" not in kpis.columns:
        raise ParamsError("the KPI table has no 'partner_id' column; pass the KPI table (docs/kpis.md)")
    rows = kpis
    if kpis.empty:
        return rows
    if window is not None and "window" in rows.columns:
        rows = rows[rows["window"] == window]
        if rows.empty:
            present = ", ".join(sorted(map(str, kpis["window"].dropna().unique())))
            raise ParamsError(f"the KPI table has no rows for window {window!r} (windows present: {present})")
    if "period" in rows.columns:
        if period is not None:
            selected = rows[rows["period"] == period]
            if selected.empty:
                present = ", ".join(sorted(map(str, rows["period"].dropna().unique())))
                raise ParamsError(
                    f"the KPI table has no rows for period {period!r} (window {window!r}); "
                    f"periods present: {present}"
                )
            rows = selected
        elif one_period:
            rows = rows[rows["period"] == rows["period"].max()]
    return rows


def _keys(rows: pd.DataFrame) -> list[str]:
    return ["partner_id"] + (["period"] if "period" in rows.columns else [])


def criteria_values(
    kpis: pd.DataFrame,
    names: Iterable[str],
    *,
    period: str | None = None,
    window: str | None = "t4q",
    one_period: bool = True,
) -> pd.DataFrame:
    """The named criteria as float columns, one row per partner (× period) of the chosen rows.

    Returns ``[partner_id, (period,) <name>...]`` for the rows of ``window`` and ``period``
    (``period=None`` and ``one_period``: the latest period; ``one_period=False``: every period).
    A name is a KPI column, or ``<column>_<window>`` for that column in the rows of another
    window of the same partner and period (missing rows give NaN). Booleans become 0/1.
    Unknown names raise :class:`ParamsError`; two rows for one partner × period × window raise
    :class:`DataValidationError`.
    """
    names = list(dict.fromkeys(names))
    rows = _rows(kpis, period=period, window=window, one_period=one_period)
    keys = _keys(rows)
    dup = rows.duplicated(keys, keep=False)
    if dup.any():
        first = rows.loc[dup, keys].iloc[0].to_dict()
        raise DataValidationError(
            f"KPI table: more than one row for {first} in window {window!r}; "
            "each partner × period × window must appear once"
        )
    out = rows[keys].reset_index(drop=True)
    for name in names:
        if name in rows.columns:
            values = rows[name].reset_index(drop=True)
        else:
            base, _, suffix = str(name).rpartition("_")
            if suffix in WINDOWS and base in kpis.columns and ("window" in kpis.columns or suffix == window):
                if "window" in kpis.columns:
                    other = kpis[kpis["window"] == suffix]
                    other = other.drop_duplicates(keys, keep="first")[keys + [base]]
                    values = out[keys].merge(other, on=keys, how="left")[base]
                else:
                    values = rows[base].reset_index(drop=True)
            else:
                raise ParamsError(
                    f"criterion {name!r} is not a column of the KPI table; available columns: "
                    f"{_available(kpis)} (a window suffix like revenue_t4q is also accepted)"
                )
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            raise ParamsError(f"criterion {name!r}: KPI column is not numeric (dtype {values.dtype})")
        out[name] = values.astype("float64").to_numpy()
    return out


def percentile_rank(values: pd.Series) -> pd.Series:
    """Mid-rank percentile in [0, 1]: (number below + ½ number equal) ÷ number of values.

    Equivalently (average rank − ½) ÷ n. NaN stays NaN and is not counted in n.
    """
    n = values.count()
    return (values.rank(method="average") - 0.5) / n


# --------------------------------------------------------------------------------------------
# Pareto / ABC, Lorenz, Gini
# --------------------------------------------------------------------------------------------


def _abc_cuts(abc: Mapping | None) -> tuple[float, float]:
    abc = {"a": 0.8, "b": 0.95} if abc is None else abc
    try:
        a, b = float(abc["a"]), float(abc["b"])
    except (KeyError, TypeError, ValueError):
        raise ParamsError(f"segmentation.abc must be a mapping {{a: 0.8, b: 0.95}}, got {abc!r}") from None
    if not 0 <= a <= b <= 1:
        raise ParamsError(f"segmentation.abc needs 0 <= a <= b <= 1, got a={a}, b={b}")
    return a, b


def pareto(
    kpis: pd.DataFrame,
    value: str = "revenue",
    abc: Mapping | None = None,
    *,
    period: str | None = None,
    window: str | None = "t4q",
) -> pd.DataFrame:
    """Pareto table and ABC classes of one period's rows.

    Returns ``[partner_id, value, share, cum_share, rank, abc_class]`` sorted by ``value``
    descending (ties: partner_id ascending). ``value`` is the KPI named by ``value`` (e.g. revenue
    in the reporting currency); ``share`` = max(value, 0) ÷ Σ max(value, 0) (a negative value
    counts as 0: nobody holds a negative share); ``cum_share`` = running sum of ``share``;
    ``rank`` = 1, 2, … in that order. Class rule, with the share of all partners ranked *before*
    a partner, ``before = cum_share − share``: A if before < a, B if before < b, else C — the
    partner whose revenue crosses ``a`` (80%) is still A. When the total is ≤ 0 (no positive
    value) share and cum_share are NaN and every partner is C. A partner with a NaN value is
    listed last with NaN share, rank and class.
    """
    a, b = _abc_cuts(abc)
    data = criteria_values(kpis, [value], period=period, window=window)
    v = data[value]
    frame = pd.DataFrame({"partner_id": data["partner_id"], "value": v, "_c": v.clip(lower=0)})
    frame = frame.sort_values(["value", "partner_id"], ascending=[False, True], na_position="last")
    frame = frame.reset_index(drop=True)
    c = frame["_c"]
    valid = c.notna()
    cum = c.cumsum()
    total = float(cum[valid].iloc[-1]) if valid.any() else 0.0
    if total > 0:
        share = c / total
        cum_share = cum.where(valid) / total  # the last valid row is total / total = 1 exactly
        before = (cum - c) / total
        cls = np.select([before < a, before < b], ["A", "B"], "C")
    else:
        share = pd.Series(np.nan, index=frame.index)
        cum_share = share.copy()
        cls = np.full(len(frame), "C", dtype=object)
    rank = pd.Series(np.arange(1, len(frame) + 1), index=frame.index, dtype="Int64").where(valid)
    return pd.DataFrame(
        {
            "partner_id": frame["partner_id"],
            "value": frame["value"],
            "share": share,
            "cum_share": cum_share,
            "rank": rank,
            "abc_class": pd.Series(cls, index=frame.index, dtype=object).where(valid),
        }
    )


def _clean(values) -> np.ndarray:
    x = np.asarray(pd.Series(values, dtype="float64").to_numpy(), dtype="float64")
    x = x[~np.isnan(x)]
    return np.sort(np.clip(x, 0, None))


def lorenz_curve(values) -> pd.DataFrame:
    """Lorenz curve of non-negative values (negatives count as 0, NaN is dropped).

    Returns ``[population_share, value_share]``: n + 1 points starting at (0, 0) and ending at
    (1, 1); point i holds the poorest i of n partners and their share of the total. An all-zero
    input has an undefined curve (value_share NaN after the first point); no values: just (0, 0).
    """
    x = _clean(values)
    n = len(x)
    if n == 0:
        return pd.DataFrame({"population_share": [0.0], "value_share": [0.0]})
    cum = np.concatenate([[0.0], np.cumsum(x)])
    pop = np.arange(n + 1) / n
    if cum[-1] > 0:
        share = cum / cum[-1]
    else:
        share = np.concatenate([[0.0], np.full(n, np.nan)])
    return pd.DataFrame({"population_share": pop, "value_share": share})


def gini(values) -> float:
    """Gini coefficient of non-negative values (negatives count as 0, NaN is dropped).

    Estimator: G = Σᵢ Σⱼ |xᵢ − xⱼ| ÷ (2 n² x̄) = 2 Σᵢ i·x₍ᵢ₎ ÷ (n Σ x) − (n + 1) ÷ n with x
    sorted ascending (i = 1..n); this equals 1 − 2 × the trapezoid area under the Lorenz curve.
    0 = everyone equal; the maximum, one partner holding everything, is 1 − 1/n (< 1).
    NaN when there are no values or their total is 0.
    """
    x = _clean(values)
    n = len(x)
    total = x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    i = np.arange(1, n + 1)
    g = 2.0 * np.dot(i, x) / (n * total) - (n + 1.0) / n
    return float(min(max(g, 0.0), 1.0 - 1.0 / n))


@dataclass(frozen=True)
class ParetoResult:
    """Concentration of one KPI across the network in one period.

    ``table``: :func:`pareto`; ``lorenz``: :func:`lorenz_curve`; ``gini``: :func:`gini`;
    ``top20_share``: share of the total held by the top ⌈0.2 n⌉ partners (n = partners with a
    value); ``class_counts``/``class_shares``: partners and share of the total per ABC class.
    """

    value: str
    period: str | None
    window: str | None
    table: pd.DataFrame
    lorenz: pd.DataFrame
    gini: float
    top20_share: float
    n: int
    total: float

    @property
    def class_counts(self) -> pd.Series:
        return self.table["abc_class"].value_counts().reindex(["A", "B", "C"], fill_value=0)

    @property
    def class_shares(self) -> pd.Series:
        return self.table.groupby("abc_class")["share"].sum(min_count=1).reindex(["A", "B", "C"])

    def summary(self) -> str:
        counts, shares = self.class_counts, self.class_shares
        lines = [
            f"Concentration of {self.value} ({self.window}, {self.period}): {self.n} partners, "
            f"total {self.total:,.0f}",
            f"  Gini {self.gini:.3f}; top 20% of partners hold {self.top20_share:.1%}",
        ]
        for cls in "ABC":
            share = shares[cls]
            share_txt = "—" if pd.isna(share) else f"{share:.1%}"
            lines.append(f"  class {cls}: {counts[cls]:>5} partners, {share_txt} of {self.value}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.summary()) + "</pre>"


def concentration(
    kpis: pd.DataFrame,
    value: str = "revenue",
    abc: Mapping | None = None,
    *,
    period: str | None = None,
    window: str | None = "t4q",
) -> ParetoResult:
    """Pareto table, Lorenz curve, Gini and top-20% share of ``value`` in one period (see
    :func:`pareto`, :func:`lorenz_curve`, :func:`gini`)."""
    table = pareto(kpis, value, abc, period=period, window=window)
    values = table["value"]
    clipped = values.clip(lower=0).dropna()
    n = int(clipped.size)
    total = float(clipped.sum())
    if n and total > 0:
        top = int(math.ceil(0.2 * n - 1e-9))
        top20 = float(clipped.sort_values(ascending=False).iloc[:top].sum() / total)
    else:
        top20 = float("nan")
    rows = _rows(kpis, period=period, window=window, one_period=True)
    shown_period = period if period is not None else (
        str(rows["period"].iloc[0]) if "period" in rows.columns and len(rows) else None
    )
    return ParetoResult(
        value=value,
        period=shown_period,
        window=window,
        table=table,
        lorenz=lorenz_curve(values),
        gini=gini(values),
        top20_share=top20,
        n=n,
        total=total,
    )


# --------------------------------------------------------------------------------------------
# weighted score
# --------------------------------------------------------------------------------------------


def _parse_weights(weights: Mapping) -> list[tuple[str, str, bool, float]]:
    """(label, column, higher_is_better, weight); a leading '-' means lower is better."""
    if not isinstance(weights, Mapping) or not weights:
        raise ParamsError("segmentation.weights must map KPI columns to non-negative numbers")
    parsed, seen = [], set()
    for name, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
            raise ParamsError(f"segmentation.weights.{name}: weight must be a non-negative number, got {w!r}")
        name = str(name).strip()
        lower = name.startswith("-")
        column = name[1:].strip() if lower else name
        if column in seen:
            raise ParamsError(f"segmentation.weights names criterion {column!r} twice")
        seen.add(column)
        parsed.append((name, column, not lower, float(w)))
    if sum(p[3] for p in parsed) <= 0:
        raise ParamsError("segmentation.weights: at least one weight must be positive")
    return parsed


def weighted_score(
    kpis: pd.DataFrame,
    weights: Mapping[str, float],
    missing: str = "renormalize",
    *,
    period: str | None = None,
    window: str | None = "t4q",
) -> pd.DataFrame:
    """Weighted multi-criteria score (0..100) of each partner in one period.

    Each criterion (a KPI column; ``-name`` = lower is better) becomes a mid-rank percentile
    among the partners of the rows given that have a value (:func:`percentile_rank`, ties
    averaged), reported ×100 as ``pct_<column>``. Score = 100 × Σ wᵢ·pctᵢ ÷ W where, for a
    partner missing a criterion, ``missing="renormalize"`` sums over the criteria it has and
    W = Σ of their weights (NaN if it has none), and ``missing="zero"`` scores the missing
    criterion 0 and W = Σ of all weights. Returns ``[partner_id, score, criteria_used (number of
    criteria with a value), criteria_missing (their names, comma-separated; "" if none),
    pct_<column>...]``.
    """
    if missing not in ("renormalize", "zero"):
        raise ParamsError(f"segmentation.missing must be 'renormalize' or 'zero', got {missing!r}")
    crit = _parse_weights(weights)
    data = criteria_values(kpis, [c[1] for c in crit], period=period, window=window)
    n = len(data)
    num = np.zeros(n)
    w_present = np.zeros(n)
    used = np.zeros(n, dtype="int64")
    missing_names = np.full(n, "", dtype=object)
    pct_cols = {}
    for label, column, higher, w in crit:
        x = data[column] if higher else -data[column]
        pct = percentile_rank(x)
        present = pct.notna().to_numpy()
        num += w * pct.fillna(0.0).to_numpy()
        w_present += w * present
        used += present
        missing_names = missing_names + np.where(present, "", column + ", ")
        pct_cols[f"pct_{column}"] = 100.0 * pct.to_numpy()
    if missing == "renormalize":
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(w_present > 0, num / np.where(w_present > 0, w_present, 1.0), np.nan)
    else:
        score = num / sum(c[3] for c in crit)
    out = pd.DataFrame(
        {
            "partner_id": data["partner_id"],
            "score": 100.0 * score,
            "criteria_used": used,
            "criteria_missing": pd.Series(missing_names, dtype=object).str.rstrip(", "),
        }
    )
    for col, values in pct_cols.items():
        out[col] = values
    return out


# --------------------------------------------------------------------------------------------
# performance × potential
# --------------------------------------------------------------------------------------------


def _cuts(cuts: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(c) for c in cuts)
    except (TypeError, ValueError):
        raise ParamsError(f"segmentation.matrix_cuts must be two numbers like [0.333, 0.667], got {cuts!r}") from None
    if not 0 < lo < hi < 1:
        raise ParamsError(f"segmentation.matrix_cuts must satisfy 0 < low < high < 1, got {cuts!r}")
    return lo, hi


def _band(pct: pd.Series, lo: float, hi: float) -> np.ndarray:
    """low if pct < lo, medium if pct < hi, else high; unknown where pct is NaN."""
    band = np.select([pct < lo, pct < hi, pct >= hi], list(LEVELS3), "unknown")
    return band.astype(object)


def performance_potential(
    scores: pd.DataFrame,
    kpis: pd.DataFrame,
    cuts: Sequence[float] = (0.333, 0.667),
    actions: Mapping[str, str] | None = None,
    *,
    period: str | None = None,
    window: str | None = "t4q",
    potential: str = "potential",
    revenue: str = "revenue",
    ramp_up_action: str | None = None,
) -> pd.DataFrame:
    """Performance × potential matrix cell and action of each scored partner.

    ``performance``: the partner's :func:`percentile_rank` of ``score`` (from
    :func:`weighted_score`) among scored partners — low if < cuts[0], medium if < cuts[1], else
    high; ``unknown`` without a score. ``headroom`` = potential − revenue of the same window rows
    (money, reporting currency; negative when revenue exceeds the potential), percentile-ranked
    the same way into ``potential`` low/medium/high; ``unknown`` when the partner has no potential
    (or the KPI table has no ``potential`` column). ``action`` = ``actions["<performance>_
    <potential>"]`` (``segmentation.matrix_actions``; every one of the 9 cells must be present);
    unknown potential → ``actions["<performance>_unknown"]`` if given, else
    :data:`UNKNOWN_POTENTIAL_ACTION` ("Assess potential"); unknown performance →
    :data:`UNKNOWN_PERFORMANCE_ACTION`. Without ``actions`` the action is the cell name.

    Life-cycle overrides, from the KPI ``status`` of the same rows (when the table has one):
    a partner in ramp-up (status ``onboarding``, ``kpis.ramp_up_quarters``) gets
    ``ramp_up_action`` (``segmentation.ramp_up_action``; ``None``: no override) instead of its
    cell's action; a ``churned`` partner gets no action (``None``). ``matrix_action`` keeps the
    cell's action for both.
    Returns ``[partner_id, score, headroom, performance, potential, status, matrix_action, action]``.
    """
    lo, hi = _cuts(cuts)
    if actions is not None:
        absent = [f"{p}_{q}" for p in LEVELS3 for q in LEVELS3 if f"{p}_{q}" not in actions]
        if absent:
            raise ParamsError(
                "segmentation.matrix_actions has no action for " + ", ".join(absent)
                + "; add one entry per cell '<performance>_<potential>' (low/medium/high)"
            )
    cols = [revenue] + ([potential] if potential in kpis.columns else [])
    data = criteria_values(kpis, cols, period=period, window=window)
    headroom = (data[potential] - data[revenue]) if potential in data.columns else pd.Series(np.nan, index=data.index)
    head = pd.DataFrame({"partner_id": data["partner_id"], "headroom": headroom.to_numpy()})
    out = scores[["partner_id", "score"]].merge(head, on="partner_id", how="left")
    perf = _band(percentile_rank(out["score"]), lo, hi)
    pot = _band(percentile_rank(out["headroom"]), lo, hi)
    cell = pd.Series(perf, dtype=object) + "_" + pd.Series(pot, dtype=object)
    if actions is None:
        action = cell.copy()
    else:
        lookup = {str(k): str(v) for k, v in actions.items()}
        for p in LEVELS3:
            lookup.setdefault(f"{p}_unknown", UNKNOWN_POTENTIAL_ACTION)
        action = cell.map(lookup)
    action = action.where(pd.Series(perf) != "unknown", UNKNOWN_PERFORMANCE_ACTION)
    out["performance"] = perf
    out["potential"] = pot
    if "status" in kpis.columns:
        rows = _rows(kpis, period=period, window=window, one_period=True)
        status = out["partner_id"].map(rows.drop_duplicates("partner_id").set_index("partner_id")["status"])
    else:
        status = pd.Series(np.nan, index=out.index, dtype=object)
    out["status"] = status.astype(object).to_numpy()
    out["matrix_action"] = action.to_numpy()
    final = action.astype(object).to_numpy().copy()
    if ramp_up_action is not None:
        final[(status == "onboarding").to_numpy()] = str(ramp_up_action)
    final[(status == "churned").to_numpy()] = None
    out["action"] = final
    return out[["partner_id", "score", "headroom", "performance", "potential", "status", "matrix_action", "action"]]


def matrix_counts(matrix: pd.DataFrame) -> pd.DataFrame:
    """Partners per performance × potential cell: rows performance (high → low), columns
    potential (low → high, then unknown); zero-filled."""
    rows = ["high", "medium", "low", "unknown"]
    cols = ["low", "medium", "high", "unknown"]
    table = pd.crosstab(matrix["performance"], matrix["potential"])
    table = table.reindex(index=rows, columns=cols, fill_value=0)
    table = table.loc[(table.sum(axis=1) > 0) | (table.index != "unknown"),
                      (table.sum(axis=0) > 0) | (table.columns != "unknown")]
    return table.rename_axis(index="performance", columns="potential")
