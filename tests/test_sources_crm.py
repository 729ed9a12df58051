"""HubSpot and Salesforce adapters on small fixtures written from the CRMs' export formats.

Every expected value is read off the fixture by hand (see the comments).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import funnel_models as fm
from funnel_models import FunnelConfigError, FunnelDataError
from funnel_models.io import detect_format

FIX = Path(__file__).parent / "fixtures"


def _accounted(ds):
    s = ds.summary
    assert (s["accepted"] + s["rejected"] == s["read"]).all(), s


def _events(ds, lead_id):
    e = ds.stage_events[ds.stage_events["lead_id"] == lead_id].sort_values("entered_at")
    return list(zip(e["stage"], e["entered_at"].dt.strftime("%Y-%m-%d %H:%M"), strict=True))


# ---------------------------------------------------------------------- HubSpot contacts
def test_hubspot_contacts_by_hand():
    path = FIX / "hubspot_contacts.csv"
    assert detect_format(path) == "hubspot-contacts"
    ds = fm.load(path)
    _accounted(ds)
    # 6 contact rows; row 5 has no Record ID -> rejected
    assert ds.summary.loc["leads", ["read", "accepted", "rejected"]].tolist() == [6, 5, 1]
    # events: 101 Subscriber/Lead(1, folded), MQL, SQL, Opp, Customer = 5; 102: 2; 103: 1;
    # 104: 1 (Subscriber); row 5: 1 (blank id); 106: Lead, MQL, SQL = 3  -> 13 read.
    # Rejected: row 5's event (blank id) and 106's MQL dated before its Create Date.
    assert ds.summary.loc["stage_events", ["read", "accepted", "rejected"]].tolist() == [13, 11, 2]
    assert _events(ds, "101") == [
        ("Lead", "2024-01-02 09:15"),  # Became a Subscriber Date wins over Became a Lead Date
        ("MQL", "2024-01-05 11:30"),
        ("SQL", "2024-01-10 08:00"),
        ("Opportunity", "2024-01-20 12:00"),
        ("Won", "2024-02-15 16:45"),  # Customer -> Won
    ]
    assert _events(ds, "106") == [("Lead", "2024-01-09 10:00"), ("SQL", "2024-01-12 10:00")]
    early = ds.rejected[ds.rejected["rule"] == "before lead created"]
    assert early[["row", "column"]].values.tolist() == [[6, "entered_at"]]
    # Lead: 101,102,103,104,106; MQL: 101,102; SQL: 101,106; Opportunity: 101; Won: 101
    assert fm.stage_counts(ds)["entered"].tolist() == [5, 2, 0, 2, 1, 1]
    leads = ds.leads.set_index("lead_id")
    assert leads.loc["101", "notes"] == 'met at\nthe fair, "very" keen'  # embedded newline
    assert leads.loc["103", "lead_status"] == "Unqualified"
    assert leads.loc["102", "source"] == "Paid Search"
    assert leads.loc["101", "account_id"] == "9001"
    assert leads.loc["101", "became_an_evangelist_date"] == "2024-03-01 09:00"  # kept, not a stage
    assert pd.isna(leads.loc["104", "account_id"])


def test_hubspot_contacts_day_first_semicolons_and_trailing_spaces():
    path = FIX / "hubspot_contacts_dayfirst.csv"
    ds = fm.load(path, format="hubspot-contacts", dayfirst=True)
    _accounted(ds)
    assert ds.rejected.empty
    # 05/03/2024 read day-first is 5 March; 12/03 is 12 March; 01/04 is 1 April
    assert _events(ds, "201") == [
        ("Lead", "2024-03-05 14:00"),
        ("MQL", "2024-03-12 09:30"),
        ("SQL", "2024-04-01 16:00"),
    ]
    # 13/03/2024 cannot be month-first: without --dayfirst those rows are rejected, not guessed
    us = fm.load(path, format="hubspot-contacts")
    _accounted(us)
    assert "202" not in set(us.leads["lead_id"])


def test_hubspot_contacts_unknown_lifecycle_stage_is_one_line(tmp_path):
    text = (FIX / "hubspot_contacts_dayfirst.csv").read_text()
    path = tmp_path / "contacts.csv"
    path.write_text(text.replace("Became a Sales Qualified Lead Date", "Became a Partner Date"))
    with pytest.raises(FunnelConfigError) as info:
        fm.load(path, format="hubspot-contacts", dayfirst=True)
    message = str(info.value)
    assert "stage 'Partner'" in message and "'Became a Partner Date'" in message
    assert "\n" not in message


# ---------------------------------------------------------------------- HubSpot deals
def test_hubspot_deals_by_hand():
    path = FIX / "hubspot_deals.csv"
    assert detect_format(path) == "hubspot-deals"
    ds = fm.load(path)
    _accounted(ds)
    # Stage order from the stages present, by median time after creation:
    # Appointment Scheduled 0 d, Qualified To Buy median(2 d, 3 d), Contract Sent 9 d.
    assert ds.funnel.progression == ("Appointment Scheduled", "Qualified To Buy", "Contract Sent")
    assert set(ds.funnel.outcomes) >= {"Closed Won", "Closed Lost"}
    # D4's duration '12:7x:00' is malformed -> D4 rejected with the column named
    bad = ds.rejected[ds.rejected["rule"] == "bad duration"]
    assert bad["row"].tolist() == [4]
    assert "'12:7x:00'" in bad["reason"].iloc[0] and "Cumulative time in" in bad["reason"].iloc[0]
    # events: D1 4, D2 3, D3 1, D4 1 (orphan of the rejected deal), D5 1 + Won at Close Date
    assert ds.summary.loc["stage_events", ["read", "accepted", "rejected"]].tolist() == [11, 10, 1]
    assert _events(ds, "D5") == [
        ("Appointment Scheduled", "2024-01-05 00:00"),
        ("Closed Won", "2024-02-01 00:00"),  # Is Closed Won = true, no stage date
    ]
    leads = ds.leads.set_index("lead_id")
    # 2705:47:48 = 2705 h + 47/60 h + 48/3600 h
    assert leads.loc["D3", "hours_in_appointment_scheduled"] == pytest.approx(
        2705 + 47 / 60 + 48 / 3600
    )
    assert leads.loc["D1", "hours_in_qualified_to_buy"] == 168.0
    assert leads.loc["D2", "deal_name"] == "Coils for Bolt\n(second try)"
    spells = fm.spells(ds, as_of="2024-03-01").set_index(["lead_id", "stage"])
    # D1: AS 01-01 09:00 -> QTB 01-03 09:00 = 2 days; QTB -> CS 7 days; CS -> Closed Won
    assert spells.loc[("D1", "Appointment Scheduled"), "days_in_stage"] == 2.0
    assert spells.loc[("D1", "Qualified To Buy"), "days_in_stage"] == 7.0
    assert spells.loc[("D1", "Contract Sent"), "outcome"] == "won"
    assert spells.loc[("D2", "Qualified To Buy"), "outcome"] == "lost"
    assert bool(spells.loc[("D3", "Appointment Scheduled"), "censored"])


def test_hubspot_deals_with_a_pipeline_mapping(tmp_path):
    mapping = tmp_path / "pipeline.yaml"
    mapping.write_text(
        "stages: [Lead, MQL, SAL, SQL, Opportunity]\n"
        "aliases:\n"
        "  Appointment Scheduled: SAL\n"
        "  Qualified To Buy: SQL\n"
    )
    # Contract Sent is not in the mapping: one line naming the stage and its column
    with pytest.raises(FunnelConfigError) as info:
        fm.load(FIX / "hubspot_deals.csv", format="hubspot-deals", funnel=mapping)
    message = str(info.value)
    assert "stage 'Contract Sent'" in message and "not in the pipeline mapping" in message
    assert "Date entered" in message and "\n" not in message

    mapping.write_text(mapping.read_text() + "  Contract Sent: Opportunity\n")
    ds = fm.load(FIX / "hubspot_deals.csv", format="hubspot-deals", funnel=mapping)
    _accounted(ds)
    assert _events(ds, "D1") == [
        ("SAL", "2024-01-01 09:00"),
        ("SQL", "2024-01-03 09:00"),
        ("Opportunity", "2024-01-10 09:00"),
        ("Won", "2024-01-20 09:00"),  # 'Closed Won' is a built-in alias of Won
    ]
    # a funnel.yaml next to the export is used the same way
    shutil.copy(FIX / "hubspot_deals.csv", tmp_path / "deals.csv")
    shutil.copy(mapping, tmp_path / "funnel.yaml")
    again = fm.load(tmp_path / "deals.csv")
    pd.testing.assert_frame_equal(again.stage_events, ds.stage_events)


# ---------------------------------------------------------------------- Salesforce
def test_salesforce_leads_by_hand():
    path = FIX / "salesforce_leads.csv"
    assert detect_format(path) == "salesforce-leads"
    ds = fm.load(path)
    _accounted(ds)
    # 5 leads; row 5's CreatedDate 'not a date' -> rejected
    assert ds.summary.loc["leads", ["read", "accepted", "rejected"]].tolist() == [5, 4, 1]
    # events: 5 Lead + Converted for rows 1 and 4 = 7; rejected: row 5's Lead (bad date)
    # and row 4's conversion (IsConverted true, ConvertedDate blank)
    assert ds.summary.loc["stage_events", ["read", "accepted", "rejected"]].tolist() == [7, 5, 2]
    assert _events(ds, "00Q000000000001AAA") == [
        ("Lead", "2024-03-01 09:00"),
        ("SQL", "2024-03-05 00:00"),  # converted -> SQL
    ]
    leads = ds.leads.set_index("lead_id")
    assert (
        leads.loc["00Q000000000002AAA", "description"] == "Asked for a quote;\ncall back in April"
    )
    assert leads.loc["00Q000000000003AAA", "status"] == "Closed - Not Converted"
    assert leads.loc["00Q000000000001AAA", "account_id"] == "001000000000001AAA"
    assert leads.loc["00Q000000000002AAA", "source"] == "Trade Show"


def test_salesforce_opportunity_history_by_hand():
    path = FIX / "salesforce_opportunity_history.csv"
    assert detect_format(path) == "salesforce-opportunity-history"
    ds = fm.load(path)
    _accounted(ds)
    # row 2 only changes Amount 10000 -> 12000 ('Prospecting ' with a trailing space before)
    assert ds.rejected[["row", "rule"]].values.tolist() == [[2, "no stage change"]]
    assert ds.summary.loc["leads", "accepted"] == 3  # three opportunities
    # Salesforce default order: Prospecting, Needs Analysis, Proposal/Price Quote
    assert ds.funnel.progression == ("Prospecting", "Needs Analysis", "Proposal/Price Quote")
    spells = fm.spells(ds, as_of="2024-04-30").set_index(["lead_id", "stage"])
    # Prospecting 03-05 09:00 -> Proposal 03-20 09:00 = 15 days, not split by the amount row
    assert spells.loc[("006000000000001AAA", "Prospecting"), "days_in_stage"] == 15.0
    assert spells.loc[("006000000000001AAA", "Prospecting"), "outcome"] == "skipped"
    assert spells.loc[("006000000000002AAA", "Prospecting"), "outcome"] == "lost"

    # OpportunityFieldHistory of opportunity 1 gives the same stage visits
    field = fm.load(FIX / "salesforce_opportunity_field_history.csv")
    _accounted(field)
    assert field.rejected[["row", "rule"]].values.tolist() == [[2, "not a stage change"]]
    assert _events(field, "006000000000001AAA") == _events(ds, "006000000000001AAA")


def test_salesforce_history_stage_not_in_mapping(tmp_path):
    mapping = tmp_path / "funnel.yaml"
    mapping.write_text("stages: [Lead, MQL, SAL, SQL, Opportunity]\naliases: {Prospecting: SQL}\n")
    with pytest.raises(
        FunnelConfigError, match="stage 'Proposal/Price Quote'.*not in the pipeline"
    ):
        fm.load(FIX / "salesforce_opportunity_history.csv", funnel=mapping)


# ---------------------------------------------------------------------- CLI and errors
@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("hubspot_contacts.csv", "hubspot-contacts"),
        ("hubspot_deals.csv", "hubspot-deals"),
        ("salesforce_leads.csv", "salesforce-leads"),
        ("salesforce_opportunity_history.csv", "salesforce-opportunity-history"),
    ],
)
def test_cli_validate_and_funnel_accept_each_export(fixture, kind, tmp_path, capsys):
    from funnel_models.cli import main

    code = main(
        ["validate", str(FIX / fixture), "--format", kind, "--rejected", str(tmp_path / "r.csv")]
    )
    assert code in (0, 1)
    capsys.readouterr()
    assert main(["funnel", str(FIX / fixture), "--format", kind, "--json"]) == 0
    assert capsys.readouterr().out.lstrip().startswith(("{", "["))


def test_wrong_format_for_the_file_is_one_line(capsys):
    from funnel_models.cli import main

    code = main(["validate", str(FIX / "salesforce_leads.csv"), "--format", "hubspot-deals"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "no deal id column" in err


def test_missing_file_and_undetectable_export(tmp_path):
    with pytest.raises(FunnelDataError, match="no such file"):
        fm.load(tmp_path / "nope.csv", format="hubspot-contacts")
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n1,2\n")
    with pytest.raises(FunnelDataError, match="cannot tell what kind of source"):
        fm.load(plain)
