"""What may be sent, to whom, and what is already done.

Pure functions on the run's ``manifest.json`` (a dict), the run's ``partners`` and recipients
frames (read by :mod:`.snapshot`) and the ledger's record of sent messages. The only I/O here is
reading files the run wrote (the manifest, the reports to check their sha256, the KPI tables for
the email body).

A *message* is one email to one recipient: one row of the frame :func:`plan_messages` returns.
A *problem* is a partner or recipient that gets no message, with the reason, one row each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..files import sha256_file
from .errors import DeliveryError

#: Columns of the frame of planned messages (one row per partner × recipient).
MESSAGE_COLUMNS = [
    "partner_id", "partner_name", "locale", "recipient", "address", "contact_name",
    "report_path", "report_sha256", "pdf_path", "pdf_sha256",
]
#: Columns of every problems / results frame.
PROBLEM_COLUMNS = ["partner_id", "recipient", "status", "detail"]


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns).astype({c: "object" for c in columns})


def load_manifest(run_dir: Path, period: str) -> dict:
    """The run's ``manifest.json``; a :class:`DeliveryError` if it is missing, unreadable or for
    another period."""
    path = Path(run_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeliveryError(
            f"no manifest at {path}: render the reports of {period} first (make reports PERIOD={period})"
        ) from None
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"{path} cannot be read ({exc}); re-render with make reports") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("reports"), dict):
        raise DeliveryError(f"{path} has no 'reports' mapping; re-render with make reports")
    if str(manifest.get("period")) != str(period):
        raise DeliveryError(
            f"{path} is for period {manifest.get('period')!r}, not {period!r}: re-render this period"
        )
    return manifest


def check_reports(manifest: dict, run_dir: Path, partner_ids=None) -> pd.DataFrame:
    """One row per manifest report (or per selected partner id): may it be emailed?

    Returns columns ``partner_id, report_path, report_sha256, pdf_path, pdf_sha256, locale, status,
    detail`` where ``status`` is ``ok`` (rendered, the HTML and, when the run made one, the PDF
    present with the sha256 of the manifest), ``render_failed``
    (status ``failed``, or ``pending`` after an interrupted render),
    ``missing_file``, ``sha_mismatch`` (the file changed after rendering) or ``not_in_manifest``
    (a selected id the run did not render). ``partner_ids`` (None = all) restricts the rows.
    """
    run_dir = Path(run_dir).resolve()
    entries = manifest["reports"]
    wanted = list(entries) if partner_ids is None else [str(p) for p in partner_ids]
    rows = []
    for key in wanted:
        entry = entries.get(key)
        row = {"partner_id": key, "report_path": None, "report_sha256": None, "pdf_path": None,
               "pdf_sha256": None, "locale": None, "status": "ok", "detail": ""}
        if entry is None:
            row.update(status="not_in_manifest",
                       detail="not rendered in this run (not in manifest.json)")
            rows.append(row)
            continue
        row["partner_id"] = str(entry.get("partner_id", key))
        row["locale"] = entry.get("locale") or None
        if entry.get("status") != "ok" or not entry.get("output") or not entry.get("sha256"):
            why = (entry.get("error") or f"status {entry.get('status')!r}, no output recorded; "
                   "re-run make reports")
            row.update(status="render_failed", detail=f"report did not render: {why}")
            rows.append(row)
            continue
        files = [("report", entry["output"], entry["sha256"])]
        if entry.get("pdf"):
            files.append(("pdf", entry["pdf"], entry.get("pdf_sha256")))
        for kind, output, sha in files:
            path = (run_dir / output).resolve()
            row.update({f"{kind}_path": str(path), f"{kind}_sha256": str(sha)})
            if not path.is_relative_to(run_dir):
                row.update(status="missing_file", detail=f"output {output!r} is outside {run_dir}")
            elif not path.is_file():
                row.update(status="missing_file", detail=f"{path} is missing; re-render with make reports")
            elif sha256_file(path) != sha:
                row.update(status="sha_mismatch",
                           detail=f"{path.name} changed after rendering (sha256 differs from manifest.json); "
                                  "re-render with make reports")
            if row["status"] != "ok":
                break
        rows.append(row)
    return _frame(rows, ["partner_id", "report_path", "report_sha256", "pdf_path", "pdf_sha256", "locale",
                         "status", "detail"])


def plan_messages(
    reports: pd.DataFrame,
    partners: pd.DataFrame,
    contacts: pd.DataFrame | None,
    *,
    fallback_locale: str = "en",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Messages to build (one per partner × recipient) and the problems that stop others.

    ``reports`` is :func:`check_reports`' frame. Recipients are the partner's contacts with
    ``receives_scorecard`` true, deduplicated on the lower-cased address (``recipient``, which is
    also the ledger key); ``address`` is the address as written (envelope and To header) and
    ``contact_name`` the contact's name (greeting and To header).
    Locale: the manifest's, else the partner's ``locale``, else ``fallback_locale``.

    Returns ``(messages, problems)``: messages with :data:`MESSAGE_COLUMNS`, sorted by partner and
    recipient; problems with :data:`PROBLEM_COLUMNS` (``status`` as in :func:`check_reports`, plus
    ``unknown_partner`` and ``no_recipients``).
    """
    problems = reports.loc[reports["status"] != "ok", ["partner_id", "status", "detail"]].copy()
    problems.insert(1, "recipient", None)
    ok = reports.loc[reports["status"] == "ok", ["partner_id", "report_path", "report_sha256", "pdf_path",
                                                 "pdf_sha256", "locale"]]

    partner_cols = ["partner_id", "name"] + (["locale"] if "locale" in partners.columns else [])
    known = ok.merge(
        partners[partner_cols].rename(columns={"name": "partner_name", "locale": "partner_locale"}),
        on="partner_id", how="left", indicator=True,
    )
    unknown = known.loc[known["_merge"] == "left_only", ["partner_id"]].assign(
        recipient=None, status="unknown_partner",
        detail="rendered but not in the run's kpis/partners.parquet; re-render with make reports",
    )
    known = known.loc[known["_merge"] == "both"].drop(columns="_merge")
    if "partner_locale" not in known.columns:
        known["partner_locale"] = None
    known["locale"] = (known["locale"].fillna(known["partner_locale"]).fillna(fallback_locale)
                       .astype(str))

    if contacts is None or contacts.empty:
        rec = pd.DataFrame({c: pd.Series(dtype=object)
                            for c in ["partner_id", "recipient", "address", "contact_name"]})
        why = ("the partner_contacts table was not provided" if contacts is None
               else "no contact in partner_contacts")
    else:
        rec = contacts.loc[contacts["receives_scorecard"].fillna(False).astype(bool),
                           ["partner_id", "email", "name"]].copy()
        rec["address"] = rec["email"].astype(str).str.strip()
        rec["recipient"] = rec["address"].str.lower()
        rec = (rec.rename(columns={"name": "contact_name"})
               .sort_values(["partner_id", "recipient", "contact_name"], kind="stable")
               .drop_duplicates(["partner_id", "recipient"])[["partner_id", "recipient", "address",
                                                               "contact_name"]])
        why = "no contact with receives_scorecard = true in partner_contacts"

    messages = known.merge(rec, on="partner_id", how="left")
    none = messages.loc[messages["recipient"].isna(), ["partner_id"]].assign(
        recipient=None, status="no_recipients", detail=why,
    )
    messages = (messages.loc[messages["recipient"].notna(), MESSAGE_COLUMNS]
                .sort_values(["partner_id", "recipient"], kind="stable").reset_index(drop=True))
    problems = pd.concat([problems, unknown, none], ignore_index=True)[PROBLEM_COLUMNS]
    return messages, problems.reset_index(drop=True)


def decide(messages: pd.DataFrame, sent: pd.DataFrame, *, resend: bool = False,
           refused: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add ``action`` to the planned messages from the ledger's sent (and refused) rows.

    ``sent`` has ``partner_id, recipient, report_sha256`` of messages already delivered this period;
    ``refused`` (optional, same columns) those the server refused permanently in an earlier run
    (:func:`~channel_analysis.delivery.ledger.refused_rows`; pass None to try them again).
    ``action`` is ``already_sent`` (this report went to this recipient), ``refused_earlier`` (this
    report to this recipient was refused permanently), ``needs_resend`` (an earlier version of the
    report went to this recipient and ``resend`` is false) or ``send``.
    Returns a new frame; the input is not modified.
    """
    out = messages.copy()
    key = ["partner_id", "recipient"]

    def found(rows: pd.DataFrame, on: list[str]):
        return out.merge(rows[on].drop_duplicates(), on=on, how="left",
                         indicator=True)["_merge"].eq("both").to_numpy()

    same = found(sent, key + ["report_sha256"])
    other = found(sent, key)
    out["action"] = "send"
    if not resend:
        out.loc[other & ~same, "action"] = "needs_resend"
    if refused is not None:
        out.loc[found(refused, key + ["report_sha256"]) & ~same, "action"] = "refused_earlier"
    out.loc[same, "action"] = "already_sent"
    return out


def read_kpis(run_dir: Path, period: str) -> pd.DataFrame | None:
    """The run's KPI rows for ``period``, window ``quarter``, indexed by partner_id; None when
    ``kpis/kpis.parquet`` is absent or lacks the key columns (the email then has no KPI block)."""
    path = Path(run_dir) / "kpis" / "kpis.parquet"
    try:
        kpis = pd.read_parquet(path)
    except (OSError, ValueError, ImportError):
        return None
    if not {"partner_id", "period", "window"} <= set(kpis.columns):
        return None
    rows = kpis.loc[(kpis["period"].astype(str) == period) & (kpis["window"] == "quarter")]
    rows = rows.assign(partner_id=rows["partner_id"].astype(str))
    return rows.drop_duplicates("partner_id").set_index("partner_id")


def read_targets(run_dir: Path, period: str) -> pd.DataFrame | None:
    """Target attainment rows of ``period`` (``partner_id, metric, attainment`` and ``status`` when
    present) from ``kpis/targets.parquet``; None when absent or without those columns."""
    path = Path(run_dir) / "kpis" / "targets.parquet"
    try:
        targets = pd.read_parquet(path)
    except (OSError, ValueError, ImportError):
        return None
    if not {"partner_id", "period", "metric", "attainment"} <= set(targets.columns):
        return None
    rows = targets.loc[targets["period"].astype(str) == period]
    return rows.assign(partner_id=rows["partner_id"].astype(str)).reset_index(drop=True)
