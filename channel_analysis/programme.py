"""The partner programme seen from both sides: qualitative ratings, treatments, and what a partner earned.

Three statistics (definitions in ``docs/statistics.md``, "Partner programme"):

- :func:`partner_ratings`: the channel team's qualitative ratings (input ``partner_ratings``: brand
  image, willingness, sector potential, geography fit, …). A partner's rating on a criterion is the
  mean over raters of its latest rated quarter up to the reported one. :func:`with_ratings` puts them
  into the KPI rows the weighted score reads, as ``rating_<criterion>`` columns, so a weight named
  ``rating_brand_image`` is percentile-ranked like any KPI (:func:`channel_analysis.segmentation.weighted_score`).
- :func:`treatments`: the treatment (VIP / develop / maintain, ``programme.treatments``) of each
  partner's segment (``programme.treatment_by``: its ABC class or its matrix action).
- :func:`programme_value`: what the partner earned this quarter at its tier — the rebate of the
  ``rebates`` schedule on its quarter revenue, the MDF allocated to it, the value of its tier's
  ``benefits`` — and what the next tier would add at the same results.

Statistics never mutate their inputs and take the reported period explicitly; nothing here reads
the clock. An absent input makes its part NaN (not available), never 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .settings import ProgrammeSettings

#: Prefix of the KPI-row columns holding ratings (``rating_brand_image``), as segmentation weights name them.
RATING_PREFIX = "rating_"

#: Columns of :func:`programme_value` (the exported table ``programme_value``).
VALUE_COLUMNS = ["partner_id", "period", "tier", "rebate_rate", "rebate_earned", "mdf_allocated", "benefits_value",
                 "programme_value", "next_tier", "next_tier_value", "next_tier_extra_value"]


def rating_column(criterion: str) -> str:
    """The KPI-row column of a rating criterion (``brand_image`` → ``rating_brand_image``)."""
    return RATING_PREFIX + str(criterion)


def rating_criterion(name: str, criteria) -> str | None:
    """The criterion a segmentation weight names (``rating_brand_image`` or ``-rating_…``), when it is one
    of ``criteria``; else None."""
    name = str(name).lstrip("-").strip()
    if name.startswith(RATING_PREFIX) and name[len(RATING_PREFIX):] in criteria:
        return name[len(RATING_PREFIX):]
    return None


# --------------------------------------------------------------------------------------------
# qualitative ratings
# --------------------------------------------------------------------------------------------


def partner_ratings(ratings: pd.DataFrame | None, period: str) -> pd.DataFrame:
    """Each partner's rating per criterion as of ``period``.

    Of the rows of ``ratings`` (``partner_ratings``: partner_id, period, criterion, score, rater) rated
    in ``period`` or before, each partner × criterion keeps its latest rated quarter; the rating is the
    mean score over that quarter's raters. Returns ``[partner_id, criterion, period (the quarter rated),
    score, raters]`` sorted by partner and criterion; empty without ratings.
    """
    cols = ["partner_id", "criterion", "period", "score", "raters"]
    if ratings is None or not len(ratings):
        return pd.DataFrame({"partner_id": pd.Series(dtype=str), "criterion": pd.Series(dtype=str),
                             "period": pd.Series(dtype=str), "score": pd.Series(dtype=float),
                             "raters": pd.Series(dtype="int64")})
    r = ratings[ratings["period"].astype(str) <= str(period)]  # quarter labels sort as text
    r = r.assign(partner_id=r["partner_id"].astype(str), criterion=r["criterion"].astype(str),
                 period=r["period"].astype(str))
    latest = r.groupby(["partner_id", "criterion"])["period"].transform("max")
    r = r[r["period"] == latest]
    out = (r.groupby(["partner_id", "criterion", "period"], as_index=False)
           .agg(score=("score", "mean"), raters=("rater", "nunique")))
    out["raters"] = out["raters"].astype("int64")
    return out[cols].sort_values(["partner_id", "criterion"], ignore_index=True)


def with_ratings(kpis: pd.DataFrame, ratings: pd.DataFrame, criteria, period: str,
                 window: str = "t4q") -> pd.DataFrame:
    """A copy of the KPI table with a ``rating_<criterion>`` column per criterion of ``criteria``: the
    partner's rating (:func:`partner_ratings`' ``ratings``) on the rows of ``period`` and ``window``,
    NaN elsewhere and for a partner not rated on it. What the weighted score reads; ``kpis`` is
    not modified."""
    out = kpis.copy()
    on_rows = ((out["period"] == period) & (out["window"] == window)).to_numpy()
    ids = out["partner_id"].astype(str)
    for criterion in criteria:
        rated = ratings[ratings["criterion"] == criterion].set_index("partner_id")["score"]
        values = ids.map(rated).astype("float64").to_numpy()
        out[rating_column(criterion)] = np.where(on_rows, values, np.nan)
    return out


# --------------------------------------------------------------------------------------------
# treatments
# --------------------------------------------------------------------------------------------


def treatments(segments: pd.DataFrame, settings: ProgrammeSettings) -> pd.DataFrame:
    """The treatment of each partner: ``segments`` holds ``partner_id`` and the column
    ``settings.treatment_by`` (``abc_class`` or ``action``). Returns ``[partner_id, segment,
    treatment (id; None when the segment maps to none), treatment_name, treatment_contents]``."""
    seg = segments[["partner_id", settings.treatment_by]].rename(columns={settings.treatment_by: "segment"})
    found = [settings.treatment(None if pd.isna(v) else v) for v in seg["segment"]]
    return pd.DataFrame({
        "partner_id": seg["partner_id"].astype(str).to_numpy(),
        "segment": seg["segment"].astype(object).where(seg["segment"].notna(), None).to_numpy(),
        "treatment": pd.Series([t.id if t else None for t in found], dtype=object),
        "treatment_name": pd.Series([t.name if t else None for t in found], dtype=object),
        "treatment_contents": pd.Series([t.contents if t else None for t in found], dtype=object),
    })


def treatment_counts(table: pd.DataFrame, settings: ProgrammeSettings) -> pd.DataFrame:
    """Partners per treatment (every treatment of ``settings`` listed, zeros included, in their
    order; then partners without one): ``[treatment, treatment_name, treatment_contents, partners]``."""
    counts = table["treatment"].value_counts()
    rows = [{"treatment": t.id, "treatment_name": t.name, "treatment_contents": t.contents,
             "partners": int(counts.get(t.id, 0))} for t in settings.treatments]
    none = int(table["treatment"].isna().sum())
    if none:
        rows.append({"treatment": None, "treatment_name": None, "treatment_contents": None, "partners": none})
    return pd.DataFrame(rows, columns=["treatment", "treatment_name", "treatment_contents", "partners"])


# --------------------------------------------------------------------------------------------
# programme value
# --------------------------------------------------------------------------------------------


def rebate_rates(tiers: pd.Series, revenue: pd.Series, rebates: pd.DataFrame) -> np.ndarray:
    """The rebate rate of each (tier, quarter revenue): of the tier's rows of ``rebates`` (tier, rate,
    optional threshold: empty or absent = 0), the one with the highest threshold ≤ revenue; 0 when
    the tier has no row the revenue reaches; NaN where tier or revenue is missing."""
    n = len(tiers)
    rate = np.full(n, np.nan)
    threshold = rebates["threshold"].fillna(0.0) if "threshold" in rebates else pd.Series(0.0, index=rebates.index)
    sched = pd.DataFrame({"tier": rebates["tier"].astype(str).to_numpy(), "threshold": threshold.astype(float).to_numpy(),
                          "rate": rebates["rate"].astype(float).to_numpy()})
    q = pd.DataFrame({"tier": pd.Series(tiers).astype(object).to_numpy(),
                      "revenue": pd.Series(revenue).astype(float).to_numpy(), "_i": np.arange(n)})
    known = q[q["tier"].notna() & q["revenue"].notna()]
    if len(known):
        known = known.assign(tier=known["tier"].astype(str)).sort_values("revenue", kind="stable")
        m = pd.merge_asof(known, sched.sort_values("threshold", kind="stable"), left_on="revenue",
                          right_on="threshold", by="tier", direction="backward")
        rate[m["_i"].to_numpy()] = m["rate"].fillna(0.0).to_numpy()
    return rate


def benefits_values(tiers: pd.Series, benefits: pd.DataFrame) -> np.ndarray:
    """Σ ``benefits.value`` of each tier's benefits (0 for a tier without any; NaN without a tier)."""
    per_tier = benefits.assign(tier=benefits["tier"].astype(str)).groupby("tier")["value"].sum()
    t = pd.Series(tiers).astype(object)
    values = t.astype(str).map(per_tier).fillna(0.0).astype(float).to_numpy()
    return np.where(t.notna().to_numpy(), values, np.nan)


def next_tiers(tiers: pd.Series, levels: list[str]) -> np.ndarray:
    """The tier above each tier in ``levels`` (lowest first); None for the top tier, an unknown tier
    or none."""
    above = {levels[i]: levels[i + 1] for i in range(len(levels) - 1)}
    return np.array([above.get(t) if isinstance(t, str) else None for t in pd.Series(tiers).astype(object)],
                    dtype=object)


def programme_value(partners: pd.DataFrame, levels: list[str], period: str, *,
                    rebates: pd.DataFrame | None, benefits: pd.DataFrame | None) -> pd.DataFrame:
    """What each partner earned from the programme in ``period``, and what the next tier would add.

    ``partners``: ``[partner_id, tier, revenue, mdf_allocated]`` — the partner's tier this quarter, its
    quarter revenue and the MDF allocated to it in the quarter (reporting currency; NaN when not
    available). ``rebate_earned`` = rebate rate of its tier at that revenue (:func:`rebate_rates`) ×
    max(revenue, 0); ``benefits_value`` = Σ the value of its tier's benefits; ``programme_value`` =
    rebate_earned + mdf_allocated + benefits_value over the parts that are available (NaN when
    none is). At the next tier (``levels``, lowest first) with the same results and the same MDF:
    ``next_tier_value``, and ``next_tier_extra_value`` = (next rebate − rebate) + (next benefits −
    benefits) over the schedules provided, which is next_tier_value − programme_value (NaN for the
    top tier, and when neither ``rebates`` nor ``benefits`` is provided). Without ``rebates`` the rebate parts are NaN, without ``benefits`` the benefit
    parts. Returns :data:`VALUE_COLUMNS`, one row per partner given; the input is not modified.
    """
    tier = partners["tier"].astype(object).where(partners["tier"].notna(), None)
    revenue = partners["revenue"].astype(float)
    mdf = partners["mdf_allocated"].astype(float) if "mdf_allocated" in partners else pd.Series(np.nan, index=partners.index)
    nxt = next_tiers(tier, levels)
    nan = np.full(len(partners), np.nan)
    if rebates is not None:
        rate = rebate_rates(tier, revenue, rebates)
        next_rate = rebate_rates(pd.Series(nxt), revenue, rebates)
        earned = rate * revenue.clip(lower=0).to_numpy()
        next_earned = next_rate * revenue.clip(lower=0).to_numpy()
    else:
        rate = earned = next_earned = nan
    if benefits is not None:
        ben = benefits_values(tier, benefits)
        next_ben = benefits_values(pd.Series(nxt), benefits)
    else:
        ben = next_ben = nan
    parts = np.column_stack([earned, mdf.to_numpy(), ben])
    next_parts = np.column_stack([next_earned, mdf.to_numpy(), next_ben])
    total = _known_sum(parts)
    has_next = pd.notna(nxt)
    next_total = np.where(has_next, _known_sum(next_parts), np.nan)
    # what changes with the tier (rebate, benefits): NaN when neither schedule is provided, never 0
    extra = np.where(has_next, _known_sum(np.column_stack([next_earned - earned, next_ben - ben])), np.nan)
    return pd.DataFrame({
        "partner_id": partners["partner_id"].astype(str).to_numpy(), "period": str(period),
        "tier": tier.to_numpy(), "rebate_rate": rate, "rebate_earned": earned, "mdf_allocated": mdf.to_numpy(),
        "benefits_value": ben, "programme_value": total, "next_tier": nxt, "next_tier_value": next_total,
        "next_tier_extra_value": extra,
    })[VALUE_COLUMNS]


def _known_sum(parts: np.ndarray) -> np.ndarray:
    """Row sums over the non-NaN parts; NaN where every part is NaN."""
    known = ~np.isnan(parts)
    return np.where(known.any(axis=1), np.where(known, parts, 0.0).sum(axis=1), np.nan)


def network_totals(value: pd.DataFrame) -> dict[str, float]:
    """Σ over partners of each money column of :func:`programme_value` (NaN when no partner has it)."""
    cols = ["rebate_earned", "benefits_value", "programme_value", "next_tier_extra_value"]
    return {c: float(value[c].sum(min_count=1)) for c in cols}
