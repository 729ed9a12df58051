"""Account view (ABM): account stage, buying-group coverage, target vs rest funnel."""

from __future__ import annotations

import pandas as pd
import pytest

import funnel_models as fm


@pytest.fixture(scope="module")
def ds():
    # X (target): a Lead only, b reaches Won -> stage Won; 2 leads with activities.
    # Y (target): c reaches SQL then Lost -> stage SQL; 1 engaged lead.
    # Z (rest):   d, e Leads, no activity -> stage Lead, 0 engaged; f has no events.
    leads = pd.DataFrame(
        {
            "lead_id": list("abcdef"),
            "created_at": ["2024-01-01"] * 6,
            "account_id": ["X", "X", "Y", "Z", "Z", "Z"],
        }
    )
    events = pd.DataFrame(
        {
            "lead_id": ["a", "b", "b", "b", "c", "c", "c", "d", "e"],
            "stage": ["Lead", "Lead", "SQL", "Won", "Lead", "SQL", "Lost", "Lead", "Lead"],
            "entered_at": ["2024-01-01", "2024-01-01", "2024-01-05", "2024-02-01",
                           "2024-01-01", "2024-01-03", "2024-01-20", "2024-01-02", "2024-01-02"],
        }
    )  # fmt: skip
    acts = pd.DataFrame(
        {
            "lead_id": ["a", "b", "b", "c", "c"],
            "kind": ["email"] * 5,
            "occurred_at": ["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-02", "2024-03-01"],
        }
    )
    accounts = pd.DataFrame({"account_id": list("XYZ"), "target_account": [True, True, False]})
    return fm.FunnelDataset.from_frames(
        leads=leads, stage_events=events, activities=acts, accounts=accounts
    )


def test_account_view_by_hand(ds):
    v = fm.account_view(ds, as_of="2024-02-15")
    assert v.index.tolist() == ["X", "Y", "Z"]
    assert v["account_stage"].tolist() == ["Won", "SQL", "Lead"]
    assert v["leads"].tolist() == [2, 1, 3]
    # c's second activity is after as_of, but c already engaged on 2024-01-02
    assert v["engaged_contacts"].tolist() == [2, 1, 0]
    # open: X -> a (b won); Y -> none (c lost); Z -> d, e (f has no event yet)
    assert v["open_leads"].tolist() == [1, 0, 2]
    assert v["won"].tolist() == [True, False, False]


def test_as_of_cuts_the_account_stage(ds):
    v = fm.account_view(ds, as_of="2024-01-04")
    assert v.loc["X", "account_stage"] == "Lead" and v.loc["Y", "account_stage"] == "SQL"


def test_abm_funnel_by_hand(ds):
    f = fm.abm_funnel(ds, as_of="2024-02-15")
    # targets X (Won) and Y (SQL): both reach Lead..SQL, one reaches Won; rest Z: Lead only
    assert f["target_accounts"].tolist() == [2, 2, 2, 2, 1, 1]
    assert f["rest_accounts"].tolist() == [1, 0, 0, 0, 0, 0]
    assert f.loc["Won", "target_share"] == 0.5
    assert f.loc["Lead", "lift"] == 1.0
    assert (f["target_ci_low"] <= f["target_share"]).all()
    cov = fm.buying_group_coverage(ds, as_of="2024-02-15")
    assert cov.loc["target", "mean_engaged_contacts"] == 1.5
    assert cov.loc["rest", "share_no_engaged_contact"] == 1.0


def test_needs_account_ids():
    leads = pd.DataFrame({"lead_id": ["a"], "created_at": ["2024-01-01"]})
    events = pd.DataFrame({"lead_id": ["a"], "stage": ["Lead"], "entered_at": ["2024-01-01"]})
    ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    with pytest.raises(fm.FunnelDataError, match="account_id"):
        fm.account_view(ds)


def test_recovers_abm_lift_direction():
    from funnel_models.synthetic import generate_tables

    tables, truth = generate_tables(6000, seed=8)
    f = fm.abm_funnel(fm.FunnelDataset.from_frames(**tables))
    lift = truth["effects"]["abm_lift"]
    assert lift["planted_won_probability_target"] > lift["planted_won_probability_rest"]
    # target accounts reach Won more often, and the intervals separate
    assert f.loc["Won", "target_ci_low"] > f.loc["Won", "rest_share"]
