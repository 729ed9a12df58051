"""Personal data stays out of models: the detector on planted columns and false friends."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import funnel_models as fm
from funnel_models.cli import main
from funnel_models.core.privacy import find_personal_data

FIRST = ["Sofia", "Lukas", "Emma", "Jonas", "Maria", "Pierre", "Ana", "James", "Ingrid", "Omar"]
LAST = ["Meier", "Rossi", "Dubois", "Silva", "Novak", "Jensen", "Smith", "Kowalski"]


def _leads(n=800, seed=0):
    rng = np.random.default_rng(seed)
    first = rng.choice(FIRST, n)
    last = rng.choice(LAST, n)
    t = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(n)],
            "first_name": first,  # personal by name and content
            "contact": [f"{a}.{b}@example.com".lower() for a, b in zip(first, last, strict=True)],
            "owner": [f"{a} {b}" for a, b in zip(rng.choice(FIRST, n), last, strict=True)],
            "tel": [f"+49 30 {rng.integers(1000000, 9999999)}" for _ in range(n)],
            "visit_street": [f"{rng.integers(1, 200)} Main Street" for _ in range(n)],
            # false friends
            "lead_source": rng.choice(["Paid Search", "Trade Fair", "Webinar"], n),
            "company_size": rng.choice(["SMB", "Mid", "Enterprise"], n),
            "industry": rng.choice(["Consumer Electronics", "Medical Devices", "Automotive"], n),
            "region": rng.choice(["North America", "South America", "Western Europe"], n),
            "sdr_team": rng.choice(["SDR South", "SDR North"], n),
            "account_name": rng.choice(["Acme GmbH", "Vector Controls AB", "Lumen Ltd"], n),
            "created_on": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d"),
            "amount": rng.integers(1000, 90000, n).astype(str),
            "campaign_name": rng.choice(["Spring Promo", "Summer Webinar"], n),
        }
    )
    p = np.where(t["lead_source"] == "Trade Fair", 0.55, 0.2)
    t["won"] = np.where(rng.random(n) < p, "won", "lost")
    return t


PLANTED = {
    "first_name": "name",
    "contact": "email",
    "owner": "name",
    "tel": "phone",
    "visit_street": "address",
}


def test_planted_columns_are_found_by_content_and_false_friends_are_not():
    t = _leads()
    screen = find_personal_data(t)
    found = screen.loc[screen["personal"], "kind"].to_dict()
    assert found == PLANTED
    # "contact" and "owner" say nothing in their names: their content gives them away
    n = t["contact"].nunique()
    assert screen.loc["contact", "reason"] == f"all {n} distinct values look like email addresses"
    assert "its name says a person's name" in screen.loc["first_name", "reason"]
    assert "shaped like people's names" in screen.loc["owner", "reason"]


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("First Name", "name"),
        ("LastName", "name"),
        ("full_name", "name"),
        ("Email", "email"),
        ("MobilePhone", "phone"),
        ("Postal Code", "address"),
        ("billing_street", "address"),
        ("date_of_birth", "birth date"),
        ("ip_address", "online identifier"),
        ("passport_number", "identity number"),
    ],
)
def test_column_names_that_say_personal_data(column, kind):
    screen = find_personal_data(pd.DataFrame({column: ["x1", "x2", None]}))
    assert screen.loc[column, "kind"] == kind


@pytest.mark.parametrize(
    "column",
    ["lead_source", "company_size", "account_name", "campaign_name", "email_opens", "stage_name",
     "Lead Status", "sales_price", "landing_page_id"],
)  # fmt: skip
def test_column_names_that_do_not(column):
    screen = find_personal_data(pd.DataFrame({column: ["a", "b", "c"]}))
    assert not screen.loc[column, "personal"]


def test_a_bare_name_column_of_companies_is_not_personal():
    companies = pd.DataFrame({"name": ["Vector Controls AB", "Quantum GmbH", "Lumen Ltd", "Sud"]})
    people = pd.DataFrame({"name": ["Ana Silva", "Jonas Meier", "Emma Rossi", "Omar Novak"]})
    assert not find_personal_data(companies).loc["name", "personal"]
    assert find_personal_data(people).loc["name", "kind"] == "name"


def test_dates_ids_and_amounts_are_not_phone_numbers():
    t = pd.DataFrame(
        {
            "d": ["2024-01-05", "05/01/2024", "2024-01-05 10:00"] * 3,
            "id": ["00Q000000000001AAA", "1234567890", "9876543210"] * 3,
            "amt": ["1234567.50", "99000", "-1200000"] * 3,
        }
    )
    assert not find_personal_data(t)["personal"].any()


def test_scorer_leaves_personal_columns_out_and_says_why():
    t = _leads()
    with pytest.warns(fm.PersonalDataWarning, match="look like personal data"):
        scorer = fm.LeadScorer(target="won", id_column="lead_id", model="logistic").fit(t)
    personal = scorer.excluded_[scorer.excluded_["kind"] == "personal data"]
    assert set(personal.index) == set(PLANTED)
    assert not set(PLANTED) & set(scorer.features_)
    assert "lead_source" in scorer.features_ and "company_size" in scorer.features_
    assert set(scorer.report()["personal_data_features"]) == set(PLANTED)
    # no reason ever names a person
    ranked = scorer.rank_open_leads(t, open_only=False)
    assert not ranked["reasons"].str.contains("|".join(FIRST)).any()


def test_personal_data_keep_overrides():
    t = _leads()[["first_name", "lead_source", "won"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no personal-data warning when kept
        scorer = fm.LeadScorer(target="won", personal_data="keep", model="logistic").fit(t)
    assert "first_name" in scorer.features_
    assert scorer.excluded_.empty


def test_cli_reports_and_can_keep_personal_columns(tmp_path, capsys):
    src = tmp_path / "leads.csv"
    _leads().to_csv(src, index=False)
    model = tmp_path / "m.skops"
    base = ["score", "fit", str(src), "--target", "won", "--id", "lead_id", "--model", "logistic"]
    assert main([*base, "--out", str(model), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["personal_data_features"]) == set(PLANTED)
    assert main([*base, "--out", str(model)]) == 0
    text = capsys.readouterr().out
    assert "left out as personal data (use --keep-personal to keep them):" in text
    assert "  contact: all 80 distinct values look like email addresses" in text  # 10 x 8 names
    assert main([*base, "--out", str(model), "--json", "--keep-personal"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert kept["personal_data_features"] == [] and "first_name" in kept["features"]
