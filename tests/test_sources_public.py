"""The Olist and Maven adapters on the real files in ../shared/datasets.

Every expected number is computed here from the CSVs with plain pandas; the
adapters must account for every row (accepted + rejected == read).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _datasets import datasets_dir

import funnel_models as fm

DATASETS = datasets_dir()
OLIST = DATASETS / "olist_marketing_funnel"
MAVEN = DATASETS / "maven_crm_sales_opportunities"

pytestmark = pytest.mark.realdata


def _need(folder: Path) -> None:
    if not folder.exists():
        pytest.skip(f"real data not present: {folder} (see /work/shared/datasets)")


def _entered(ds, stage: str) -> int:
    events = ds.stage_events
    return int(events.loc[events["stage"] == stage, "lead_id"].nunique())


# ---------------------------------------------------------------------- Olist
def test_olist_rows_and_stage_counts_match_plain_pandas():
    _need(OLIST)
    mql = pd.read_csv(OLIST / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(OLIST / "olist_closed_deals_dataset.csv")
    ds = fm.load(OLIST)  # format told from the file names
    assert ds.source.startswith("olist:")

    summary = ds.summary
    assert (summary["accepted"] + summary["rejected"] == summary["read"]).all()
    assert summary.loc["leads", "read"] == len(mql)
    assert summary.loc["stage_events", "read"] == len(mql) + len(deals)

    # by pandas: a deal counts as Won unless it is dated before its MQL's first contact
    joined = deals.merge(mql, on="mql_id", how="left")
    won_at = pd.to_datetime(joined["won_date"])
    first = pd.to_datetime(joined["first_contact_date"])
    early = won_at < first
    assert int(early.sum()) == 1  # the quirk PROVENANCE.md documents
    assert _entered(ds, "MQL") == mql["mql_id"].nunique()
    assert _entered(ds, "Won") == int((~early).sum())
    counts = fm.stage_counts(ds)
    assert counts.loc["MQL", "entered"] == mql["mql_id"].nunique()
    assert counts.loc["Won", "entered"] == int((~early).sum())

    rejected = ds.rejected
    assert len(rejected) == 1
    row = rejected.iloc[0]
    assert row["source"].endswith("olist_closed_deals_dataset.csv")
    assert row["row"] == int(early.to_numpy().nonzero()[0][0]) + 1
    assert row["rule"] == "before lead created"

    # origin -> source, blanks stay missing; deal attributes ride on the Won event
    by_source = ds.leads["source"].value_counts(dropna=False)
    expected = mql["origin"].value_counts(dropna=False)
    assert by_source.get("paid_search") == expected["paid_search"]
    assert int(ds.leads["source"].isna().sum()) == int(mql["origin"].isna().sum())
    won = ds.stage_events[ds.stage_events["stage"] == "Won"]
    assert won["owner_id"].notna().all() and won["business_segment"].notna().sum() > 800


# ---------------------------------------------------------------------- Maven
def test_maven_rows_and_stage_counts_match_plain_pandas():
    _need(MAVEN)
    pipe = pd.read_csv(MAVEN / "sales_pipeline.csv")
    ds = fm.load(MAVEN)
    assert ds.source.startswith("maven:")
    assert ds.funnel.progression == ("Prospecting", "Engaging")

    summary = ds.summary
    assert (summary["accepted"] + summary["rejected"] == summary["read"]).all()
    assert summary.loc["leads", "read"] == len(pipe)
    dated = pipe["engage_date"].notna()
    assert summary.loc["leads", "accepted"] == int(dated.sum())

    # the undated rows are exactly the Prospecting ones, rejected with the reason
    rejected = ds.rejected[ds.rejected["table"] == "leads"]
    assert sorted(rejected["row"]) == sorted((pipe.index[~dated] + 1).tolist())
    assert set(pipe.loc[~dated, "deal_stage"]) == {"Prospecting"}
    assert set(rejected["rule"]) == {"no date"}
    assert rejected["reason"].str.contains("'Prospecting' has no engage_date").all()

    closed = pipe["close_date"].notna()
    assert _entered(ds, "Engaging") == int(dated.sum())
    assert _entered(ds, "Won") == int((closed & (pipe["deal_stage"] == "Won")).sum())
    assert _entered(ds, "Lost") == int((closed & (pipe["deal_stage"] == "Lost")).sum())
    counts = fm.stage_counts(ds)
    assert counts.loc["Engaging", "entered"] == int(dated.sum())
    assert counts.loc["Won", "entered"] == int((pipe["deal_stage"] == "Won").sum())

    # open Engaging deals are censored spells, not failures
    spells = fm.spells(ds, as_of="2017-12-31")
    engaging = spells[spells["stage"] == "Engaging"]
    assert int((engaging["outcome"] == "open").sum()) == int(
        (pipe["deal_stage"] == "Engaging").sum()
    )
    assert engaging.loc[engaging["outcome"] == "open", "censored"].all()

    # opportunities: every dated deal, amounts as in the file, won only when closed
    opps = ds.opportunities
    assert len(opps) == int(dated.sum())
    assert opps["amount"].sum() == pytest.approx(pipe["close_value"].sum())
    assert int(opps["won"].sum()) == int((pipe["deal_stage"] == "Won").sum())
    assert int(opps["won"].isna().sum()) == int((dated & ~closed).sum())

    # 'GTXPro' in the pipeline is 'GTX Pro' in the catalogue
    gtx_pro = pipe.loc[dated, "product"].eq("GTXPro").sum()
    assert int((ds.leads["product"] == "GTX Pro").sum()) == int(gtx_pro)
    assert set(ds.leads.loc[ds.leads["product"] == "GTX Pro", "series"]) == {"GTX"}
    assert ds.leads["regional_office"].notna().all()
    accounts = pd.read_csv(MAVEN / "accounts.csv")
    assert len(ds.accounts) == len(accounts)
    assert set(ds.accounts["industry"]) == set(accounts["sector"])


def test_public_folders_through_the_cli(capsys):
    _need(MAVEN)
    from funnel_models.cli import main

    code = main(["validate", str(MAVEN), "--format", "maven", "--json", "--rejected", "/dev/null"])
    out = capsys.readouterr().out
    assert code == 1  # the Prospecting rows are rejected (with a reason), so exit 1
    assert '"rows_rejected": 500' in out
