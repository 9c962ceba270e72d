"""Shared fixtures: run parameters and a tiny, valid set of raw input tables."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import settings

from channel_analysis.params import load_params

# Property tests explore the same examples on every run (reproducible CI, like every fixed seed here);
# run with --hypothesis-profile=explore to search new ones.
settings.register_profile("default", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile("default")

AS_OF = "2026-10-05"


@pytest.fixture
def params(tmp_path):
    """Parameters of a run as of 2026-10-05 reporting 2026Q3 with a 2-quarter history, EUR."""
    return load_params(None, {"as_of": AS_OF, "period": "2026Q3", "history_quarters": 2,
                              "data": {"source": str(tmp_path / "data")}})


def tiny_raw() -> dict[str, pd.DataFrame]:
    """Every input table, a few rows each, all rules satisfied, values as text (like a CSV).

    Partners: P001 (EUR), P002 (PLN, rates 0.25 in 2026Q2 and 0.20 in 2026Q3), 007 (EUR, leading
    zeros). Sales in 2026Q2 and 2026Q3, so a 2-quarter history ending 2026Q3 has no gap.
    """
    return {
        "partners": pd.DataFrame({
            "partner_id": ["P001", "P002", "007"],
            "name": ["Nordlicht GmbH", "Wisła Sp. z o.o.", "Bond & Co"],
            "partner_type": ["reseller", "distributor", "dealer"],
            "region": ["DACH", "CEE", "DACH"],
            "country": ["DE", "PL", "AT"],
            "locale": ["de_DE", "pl_PL", None],
            "currency": ["EUR", "PLN", "EUR"],
            "onboarded_date": ["2023-02-15", "2024-01-10", "2025-06-01"],
            "end_date": [None, None, None],
            "sales_reps": ["4", "2", None],
            "tier": ["Gold", None, None],
            "parent_id": [None, None, "P001"],
        }),
        "partner_contacts": pd.DataFrame({
            "partner_id": ["P001", "P002", "007"],
            "name": ["Anna Schmidt", "Jan Kowalski", "James Bond"],
            "email": ["anna@nordlicht.example", "jan@wisla.example", "james@bond.example"],
            "role": ["owner", None, "sales manager"],
            "receives_scorecard": ["true", "true", "true"],
        }),
        "sales": pd.DataFrame({
            "line_id": ["S1", "S2", "S3", "S4"],
            "date": ["2026-05-10", "2026-08-14", "2026-08-20", "2026-09-30"],
            "partner_id": ["P001", "P002", "P002", "007"],
            "customer_id": ["C1", "C2", "C2", "C3"],
            "product_id": ["SKU-1", "SKU-2", "SKU-1", "SKU-1"],
            "category": ["Controllers", "Sensors", "Controllers", "Controllers"],
            "quantity": ["3", "2", "1", "5"],
            "revenue": ["1000", "400", "100", "500"],
            "cost": ["600", "300", None, "250"],
            "currency": [None, None, "EUR", None],
            "registered_units": ["2", "0", "1", "5"],
            "registered_date": ["2026-05-20", None, "2026-08-21", "2026-10-01"],
            "channel": ["sell_through", "sell_in", "sell_in", "sell_through"],
        }),
        "opportunities": pd.DataFrame({
            "opportunity_id": ["O1", "O2", "O3"],
            "partner_id": ["P001", "P002", "007"],
            "customer_id": ["C1", None, "C3"],
            "created_date": ["2026-04-02", "2026-05-01", "2026-07-01"],
            "stage": ["Won", "Propose", "Lost"],
            "amount": ["48000", "10000", "2000"],
            "currency": [None, None, None],
            "expected_close_date": [None, "2026-11-30", None],
            "closed_date": ["2026-09-18", None, "2026-08-01"],
            "outcome": ["won", "open", "lost"],
        }),
        "opportunity_stages": pd.DataFrame({
            "opportunity_id": ["O1", "O1", "O2"],
            "stage": ["Qualify", "Propose", "Qualify"],
            "entered_date": ["2026-04-02", "2026-06-01", "2026-05-01"],
        }),
        "leads": pd.DataFrame({
            "lead_id": ["L1", "L2"],
            "partner_id": ["P001", "P002"],
            "assigned_date": ["2026-03-25", "2026-07-01"],
            "accepted_date": ["2026-03-27", None],
            "status": ["converted", "assigned"],
            "opportunity_id": ["O1", None],
        }),
        "targets": pd.DataFrame({
            "partner_id": ["P001", "P001", "P002"],
            "period": ["2026Q3", "2026Q3", "2026Q3"],
            "metric": ["revenue", "win_rate", "revenue"],
            "target": ["250000", "0.4", "80000"],
        }),
        "mdf": pd.DataFrame({
            "activity_id": ["M1", "M2"],
            "partner_id": ["P001", "P002"],
            "period": ["2026Q3", "2026Q2"],
            "activity_type": ["event", "digital"],
            "allocated": ["10000", "4000"],
            "requested": ["9000", "4000"],
            "approved": ["8000", "3000"],
            "claimed": ["7600", "1000"],
            "attributed_revenue": ["61000", None],
            "currency": [None, "PLN"],
        }),
        "trainings": pd.DataFrame({
            "partner_id": ["P001", "P002"],
            "person_id": ["P001-R1", "P002-R1"],
            "course": ["Sales Professional", "Basics"],
            "completed_date": ["2026-03-12", "2026-06-01"],
            "certification": ["true", "false"],
            "expires_date": ["2028-03-12", None],
        }),
        "surveys": pd.DataFrame({
            "response_id": ["R1", "R2"],
            "partner_id": ["P001", "007"],
            "date": ["2026-08-30", "2026-09-02"],
            "csat": ["4", None],
            "nps": ["9", "6"],
        }),
        "potential": pd.DataFrame({
            "partner_id": ["P001", "P002"],
            "period": ["2026Q3", "2026Q3"],
            "potential": ["900000", "120000"],
        }),
        "program_costs": pd.DataFrame({
            "partner_id": ["007"],
            "date": ["2025-06-15"],
            "cost_type": ["onboarding"],
            "amount": ["2500"],
        }),
        "fx_rates": pd.DataFrame({
            "currency": ["PLN", "PLN"],
            "period": ["2026Q2", "2026Q3"],
            "rate": ["0.25", "0.2"],
        }),
        "accounts": pd.DataFrame({
            "customer_id": ["C1", "C2", "C3"],
            "name": ["Brauerei Kessler AG", None, "Vidal Envases S.L."],
            "industry": ["Food & beverage", "Packaging", None],
            "employees": ["420", None, "35"],
            "potential": ["250000", None, "40000"],
            "coverage": ["partner_managed", None, "inside_sales"],
        }),
        "partner_ratings": pd.DataFrame({
            "partner_id": ["P001", "P001", "007"],
            "period": ["2026Q3", "2026Q3", "2026Q2"],
            "criterion": ["brand_image", "brand_image", "willingness"],
            "score": ["4", "5", "3"],
            "rater": ["A. Weber", "J. Keller", "A. Weber"],
        }),
        "rebates": pd.DataFrame({
            "tier": ["Silver", "Gold", "Gold"],
            "rate": ["0.01", "0.02", "0.03"],
            "threshold": [None, "0", "250000"],
        }),
        "benefits": pd.DataFrame({
            "tier": ["Gold"],
            "benefit": ["Dedicated hotline"],
            "value": ["2500"],
        }),
    }


@pytest.fixture
def raw():
    """A fresh copy of :func:`tiny_raw` (tests may modify it)."""
    return tiny_raw()
