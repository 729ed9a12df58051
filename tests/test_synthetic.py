"""The synthetic CRM generator: planted effects, determinism, integrity, CLI.

The effects are measured here with plain pandas on the written tables -- never
with the package's analysis code -- and compared with the sizes documented in
``funnel_models.synthetic`` (the numbers below are written out by hand) and
with ``ground_truth.json``. Tolerances are a few binomial standard errors
computed from the counts in the test, so they are tight but not flaky.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from funnel_models import Funnel, FunnelConfigError
from funnel_models.cli import main
from funnel_models.synthetic import generate, generate_tables

N_LEADS = 40_000
AS_OF = pd.Timestamp("2026-09-30", tz="UTC")
HOUR = pd.Timedelta(hours=1)
TABLES = ("leads", "stage_events", "activities", "opportunities", "accounts")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic") / "crm"
    generate(out, n_leads=N_LEADS, seed=2024)
    tables = {name: pd.read_parquet(out / f"{name}.parquet") for name in TABLES}
    truth = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    return out, tables, truth


@pytest.fixture(scope="module")
def transitions(data):
    """Every stage event with the lead's next stage event and the lead's attributes."""
    _, t, _ = data
    ev = t["stage_events"].sort_values(["lead_id", "entered_at"], kind="stable")
    ev = ev.reset_index(drop=True)
    same = ev["lead_id"].eq(ev["lead_id"].shift(-1))
    ev["next_stage"] = ev["stage"].shift(-1).where(same)
    ev["next_at"] = ev["entered_at"].shift(-1).where(same)
    same2 = ev["lead_id"].eq(ev["lead_id"].shift(-2))
    ev["next2_stage"] = ev["stage"].shift(-2).where(same2)
    return ev.merge(t["leads"], on="lead_id", how="left", validate="many_to_one")


def _mql_to_sal(transitions, *, settled_days=90):
    """MQL→SAL transitions of MQLs old enough that a slow SAL is not censored."""
    tr = transitions
    mask = (
        tr["stage"].eq("MQL")
        & tr["next_stage"].eq("SAL")
        & (tr["entered_at"] <= AS_OF - pd.Timedelta(days=settled_days))
    )
    out = tr[mask].copy()
    out["hours"] = (out["next_at"] - out["entered_at"]) / HOUR
    return out


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


# ----------------------------------------------------------------------------- effects
def test_slow_handoff_automotive_about_four_times_the_rest(data, transitions):
    _, _, truth = data
    h = _mql_to_sal(transitions)
    auto = h["industry"].eq("automotive")
    med_seg, med_rest = h.loc[auto, "hours"].median(), h.loc[~auto, "hours"].median()
    ratio = med_seg / med_rest
    eff = truth["effects"]["slow_handoff"]
    assert eff["segment"] == {"industry": "automotive"}
    # documented size: ~4x (realised between 3.4 and 4.6 across seeds at this size)
    assert 3.2 <= ratio <= 5.0, ratio
    # the ground truth holds all uncensored transitions of the same leads; the test drops the
    # last 90 days (~12 % of MQLs), which moves a median by a few percent at most
    assert med_seg == pytest.approx(eff["median_hours_segment"], rel=0.1)
    assert med_rest == pytest.approx(eff["median_hours_rest"], rel=0.12)
    assert ratio == pytest.approx(eff["ratio"], rel=0.15)
    # separable from the team effect: the industry gap holds inside each team group
    south = h["sdr_team"].eq("SDR South")
    for group in (south, ~south):
        g = h[group]
        a = g["industry"].eq("automotive")
        assert g.loc[a, "hours"].median() > 2.5 * g.loc[~a, "hours"].median()


def test_sla_breach_team_south(data, transitions):
    _, _, truth = data
    h = _mql_to_sal(transitions)
    within = h["hours"] <= 24
    by_team = within.groupby(h["sdr_team"]).agg(["mean", "size"])
    eff = truth["effects"]["sla_breach_team"]
    assert eff["segment"] == {"sdr_team": "SDR South"}
    p, n = by_team.loc["SDR South"]
    assert p == pytest.approx(0.35, abs=0.05)  # documented ~35 %
    assert p == pytest.approx(eff["sla_attainment_segment"], abs=4 * _se(p, int(n)) + 0.01)
    for team in ("SDR DACH", "SDR West", "SDR North"):
        q, m = by_team.loc[team]
        assert 0.75 <= q <= 0.90, (team, q)  # documented ~80 %
    rest = within[~h["sdr_team"].eq("SDR South")].mean()
    assert rest == pytest.approx(eff["sla_attainment_rest"], abs=0.02)
    # separable from the industry effect: South breaches inside and outside automotive
    for auto in (True, False):
        g = h[h["industry"].eq("automotive") == auto]
        w = (g["hours"] <= 24).groupby(g["sdr_team"].eq("SDR South")).mean()
        assert w[True] < w[False] - 0.25


def _first_response(data, transitions, settled_days=180):
    """Each decided MQL→SAL visit with its first sales response and whether SAL became SQL."""
    _, t, _ = data
    tr = transitions
    sal = tr[
        tr["stage"].eq("MQL")
        & tr["next_stage"].eq("SAL")
        & tr["next2_stage"].notna()
        & (tr["entered_at"] <= AS_OF - pd.Timedelta(days=settled_days))
    ].copy()
    acts = t["activities"]
    sales = acts.loc[acts["team"].eq("sales"), ["lead_id", "occurred_at"]]
    sal = pd.merge_asof(
        sal.sort_values("entered_at"),
        sales.sort_values("occurred_at"),
        left_on="entered_at",
        right_on="occurred_at",
        by="lead_id",
        direction="forward",
    )
    hours = (sal["occurred_at"] - sal["entered_at"]) / HOUR
    sal["bucket"] = np.select([hours <= 1, hours <= 24], ["fast", "mid"], "slow")
    sal["sql"] = sal["next2_stage"].eq("SQL")
    return sal, hours


def test_response_time_effect_holds_within_strata(data, transitions):
    _, _, truth = data
    sal, hours = _first_response(data, transitions)
    assert hours.notna().all()  # every accepted MQL had a first sales response
    assert (hours >= 0).all()
    # Mantel-Haenszel risk ratio fast vs slow, stratified on what else drives conversion
    two = sal[sal["bucket"].isin(["fast", "slow"])]
    num = den = 0.0
    var_terms = []
    for _, g in two.groupby(["source", "company_size"]):
        f, s = g[g["bucket"].eq("fast")], g[g["bucket"].eq("slow")]
        if f.empty or s.empty:
            continue
        n = len(g)
        num += f["sql"].sum() * len(s) / n
        den += s["sql"].sum() * len(f) / n
        var_terms.append((f["sql"].sum(), len(f), s["sql"].sum(), len(s)))
    rr = num / den
    a = sum(v[0] for v in var_terms)
    n1 = sum(v[1] for v in var_terms)
    c = sum(v[2] for v in var_terms)
    n0 = sum(v[3] for v in var_terms)
    se_log = math.sqrt((1 - a / n1) / a + (1 - c / n0) / c)  # delta method, log RR
    eff = truth["effects"]["response_time_effect"]
    assert eff["true_ratio_fast_vs_slow"] == pytest.approx(2.5)
    assert eff["confounders"] == ["source"]
    assert abs(math.log(rr) - math.log(2.5)) < 3.5 * se_log, (rr, se_log)
    # the middle bucket sits in between (planted multiplier 0.65)
    rates = sal.groupby("bucket")["sql"].mean()
    assert rates["fast"] > rates["mid"] > rates["slow"]
    # confounding by source: trade-fair leads are answered slower but convert better
    slow_share = sal["bucket"].eq("slow").groupby(sal["source"]).mean()
    assert slow_share["trade_fair"] > 2 * slow_share["web_form"]
    fast = sal[sal["bucket"].eq("fast")]
    fast_rate = fast.groupby("source")["sql"].mean()
    assert fast_rate["trade_fair"] > fast_rate["web_form"] + 0.1


def test_first_response_exists_for_every_mql_sales_touched(data, transitions):
    _, t, _ = data
    tr = transitions
    decided = tr[tr["stage"].eq("MQL") & tr["next_stage"].notna()]
    by_sales = decided[decided["next_stage"].isin(["SAL", "SQL"])]
    acts = t["activities"]
    sales = acts.loc[acts["team"].eq("sales"), ["lead_id", "occurred_at"]]
    m = pd.merge_asof(
        by_sales.sort_values("entered_at")[["lead_id", "entered_at", "next_at"]],
        sales.sort_values("occurred_at"),
        left_on="entered_at",
        right_on="occurred_at",
        by="lead_id",
        direction="forward",
    )
    assert m["occurred_at"].notna().all()
    assert (m["occurred_at"] <= m["next_at"]).all()  # first touch before the decision


def test_leaky_channel_paid_search(data, transitions):
    _, _, truth = data
    tr = transitions
    mql = tr[
        tr["stage"].eq("MQL")
        & tr["next_stage"].notna()
        & (tr["entered_at"] <= AS_OF - pd.Timedelta(days=150))
    ]
    accepted = mql["next_stage"].isin(["SAL", "SQL"])
    paid = mql["source"].eq("paid_search")
    p_seg, n_seg = accepted[paid].mean(), int(paid.sum())
    p_rest, n_rest = accepted[~paid].mean(), int((~paid).sum())
    # documented planted acceptance 0.35 vs 0.72
    assert p_seg == pytest.approx(0.35, abs=4 * _se(0.35, n_seg))
    assert p_rest == pytest.approx(0.72, abs=4 * _se(0.72, n_rest))
    eff = truth["effects"]["leaky_channel"]
    assert (eff["planted_acceptance_segment"], eff["planted_acceptance_rest"]) == (0.35, 0.72)
    # and the rejections say why
    rejected = mql[paid & mql["next_stage"].eq("Disqualified")]
    assert rejected["next_stage"].size > 0
    not_fit = tr.loc[rejected.index + 1, "reason"].eq("not a fit").mean()
    assert not_fit > 0.7


def test_abm_lift_on_closed_opportunities(data):
    _, t, truth = data
    opp = t["opportunities"].merge(t["leads"][["lead_id", "target_account"]], on="lead_id")
    closed = opp[opp["won"].notna()]
    won = closed["won"].astype(bool)
    p_t, n_t = won[closed["target_account"]].mean(), int(closed["target_account"].sum())
    p_r, n_r = won[~closed["target_account"]].mean(), int((~closed["target_account"]).sum())
    assert n_t > 200
    assert p_t == pytest.approx(0.45, abs=4 * _se(0.45, n_t))
    assert p_r == pytest.approx(0.28, abs=4 * _se(0.28, n_r))
    eff = truth["effects"]["abm_lift"]
    assert eff["planted_won_probability_target"] == 0.45
    assert eff["planted_won_probability_rest"] == 0.28
    # closed opportunities are a subset of all (uncensored) ones: realised shares agree
    assert p_t == pytest.approx(eff["realised_won_share_target"], abs=0.03)
    assert p_r == pytest.approx(eff["realised_won_share_rest"], abs=0.015)


def test_true_conversion_matches_old_cohorts_and_naive_is_low_for_recent(data):
    _, t, truth = data
    ev = t["stage_events"]
    first_mql = ev[ev["stage"].eq("MQL")].groupby("lead_id")["entered_at"].min()
    sql = ev[ev["stage"].eq("SQL")][["lead_id", "entered_at"]].rename(
        columns={"entered_at": "sql_at"}
    )
    j = sql.merge(first_mql.rename("mql_at"), left_on="lead_id", right_index=True)
    j = j[j["sql_at"] >= j["mql_at"]].groupby("lead_id")["sql_at"].min()
    df = first_mql.rename("mql_at").to_frame().join(j)
    df["hit"] = (df["sql_at"] - df["mql_at"]) <= pd.Timedelta(days=90)
    df["cohort"] = df["mql_at"].dt.tz_localize(None).dt.to_period("M").astype(str)
    observed = df.groupby("cohort")["hit"].agg(["size", "sum", "mean"])
    cohorts = truth["true_conversion"]["cohorts"]
    old = [
        c
        for c in cohorts
        if pd.Period(c, "M").end_time.tz_localize("UTC") < AS_OF - pd.Timedelta(days=95)
    ]
    assert len(old) >= 15
    for c in old:  # every SQL within 90 days happened before as_of: exact agreement
        assert observed.loc[c, "size"] == cohorts[c]["mqls"], c
        assert observed.loc[c, "sum"] == cohorts[c]["sql_within_90d"], c
    # the newest cohorts are still open: a naive share counts them as failures
    recent = sorted(cohorts)[-3:]
    for c in recent:
        assert observed.loc[c, "mean"] <= cohorts[c]["share"], c
    assert observed.loc[recent[-1], "mean"] < 0.8 * cohorts[recent[-1]]["share"]
    shares = [cohorts[c]["share"] for c in old if cohorts[c]["mqls"] >= 200]
    assert min(shares) > 0.2 and max(shares) < 0.5


# ----------------------------------------------------------------------------- integrity
def test_references_and_timestamps(data):
    _, t, truth = data
    leads = t["leads"]
    assert leads["lead_id"].is_unique and t["accounts"]["account_id"].is_unique
    assert leads["lead_id"].iloc[0] == "L0000001"
    assert leads["lead_id"].is_monotonic_increasing
    ids = set(leads["lead_id"])
    for name in ("stage_events", "activities", "opportunities"):
        assert t[name]["lead_id"].isin(ids).all(), name
    assert leads["account_id"].isin(set(t["accounts"]["account_id"])).all()
    assert t["opportunities"]["account_id"].isin(set(t["accounts"]["account_id"])).all()
    assert t["activities"]["activity_id"].is_unique
    assert t["opportunities"]["opportunity_id"].is_unique
    created = leads.set_index("lead_id")["created_at"]
    for name, col in (
        ("stage_events", "entered_at"),
        ("activities", "occurred_at"),
        ("opportunities", "created_at"),
    ):
        df = t[name]
        assert str(df[col].dtype).endswith("UTC]"), (name, df[col].dtype)
        assert (df[col] >= df["lead_id"].map(created)).all(), name
        assert (df[col] <= AS_OF).all(), name
    assert (leads["created_at"] <= AS_OF).all()
    assert (leads["created_at"] >= AS_OF - pd.Timedelta(days=731)).all()
    closed = t["opportunities"]["closed_at"].dropna()
    assert (closed <= AS_OF).all()
    assert {k: len(v) for k, v in t.items()} == truth["rows"]
    assert truth["n_leads"] == N_LEADS and truth["seed"] == 2024
    assert truth["as_of"].startswith("2026-09-30")


def test_stage_events_shape(data):
    _, t, _ = data
    ev = t["stage_events"]
    assert set(ev["stage"]) <= set(Funnel.default().names)
    assert set(ev["team"]) == {"marketing", "sales"}
    # sorted by lead then time
    order = ev.sort_values(["lead_id", "entered_at"], kind="stable").index
    assert (order == ev.index).all()
    first = ev.groupby("lead_id").head(1).set_index("lead_id")
    assert first["stage"].eq("Lead").all()
    assert len(first) == len(t["leads"])
    created = t["leads"].set_index("lead_id")["created_at"]
    assert (first["entered_at"] == created.loc[first.index]).all()
    needs_reason = ev["stage"].isin(["Disqualified", "Recycled", "Lost"])
    assert ev.loc[needs_reason, "reason"].notna().all()
    assert ev.loc[~needs_reason, "reason"].isna().all()
    assert {"not a fit", "no budget", "no response", "competitor", "timing"} <= set(ev["reason"])
    # skipped stages exist: Lead→SAL (outbound, distributor) and MQL→SQL
    nxt = ev.groupby("lead_id")["stage"].shift(-1)
    assert ((ev["stage"] == "Lead") & (nxt == "SAL")).sum() > 100
    assert ((ev["stage"] == "MQL") & (nxt == "SQL")).sum() > 50


def test_open_leads_and_open_opportunities(data):
    _, t, _ = data
    last = t["stage_events"].groupby("lead_id")["stage"].last()
    assert last.isin(["MQL", "SAL", "SQL", "Opportunity"]).sum() > 500
    opp = t["opportunities"]
    open_ = opp["closed_at"].isna()
    assert open_.sum() > 50
    assert opp.loc[open_, "won"].isna().all()
    assert opp.loc[~open_, "won"].notna().all()
    assert str(opp["won"].dtype) in ("boolean", "bool", "object")


def test_seasonality_and_weekdays(data):
    _, t, _ = data
    created = t["leads"]["created_at"].dt.tz_convert("Europe/Rome").dt.tz_localize(None)
    month = created.dt.to_period("M")
    counts = month.value_counts().sort_index().iloc[1:-1]  # drop partial first/last months
    august = counts[counts.index.month == 8]
    others = counts[(counts.index.month != 8) & (counts.index.month != 12)]
    assert len(august) == 2
    assert august.mean() < 0.55 * others.mean()  # documented ×0.4
    weekend = created.dt.day_of_week >= 5
    assert weekend.mean() < 0.12


def test_recycled_leads_reenter_mql(data):
    _, t, _ = data
    ev = t["stage_events"]
    rec = ev[ev["stage"].eq("Recycled") & (ev["entered_at"] < AS_OF - pd.Timedelta(days=400))]
    mql = ev[ev["stage"].eq("MQL")][["lead_id", "entered_at"]]
    j = rec[["lead_id", "entered_at"]].merge(mql, on="lead_id", suffixes=("", "_mql"))
    back = j[j["entered_at_mql"] > j["entered_at"]]["lead_id"].unique()
    share = rec["lead_id"].isin(back).mean()
    assert 0.2 <= share <= 0.4, share  # documented ~30 %


# ----------------------------------------------------------------------------- zombies
def _last_events(t) -> pd.DataFrame:
    ev = t["stage_events"].sort_values(["lead_id", "entered_at"], kind="stable")
    return ev.groupby("lead_id").tail(1).set_index("lead_id")


def test_zombies_are_old_silent_open_leads_as_recorded(data):
    _, t, truth = data
    z = truth["zombies"]
    ids = pd.Index(z["lead_ids"])
    assert ids.is_unique and z["n"] == len(ids)
    # documented: p_zombie 3 % of the leads with an MQL..Opportunity visit >= 180 days old;
    # at 40,000 leads that is a few hundred
    assert (z["p_zombie"], z["min_silent_days"]) == (0.03, 180)
    assert 200 <= len(ids) <= 600, len(ids)
    last = _last_events(t)
    zl = last.loc[ids]
    # each zombie is open at the stage recorded, entered at least 180 days before as_of
    assert zl["stage"].value_counts().to_dict() == {k: v for k, v in z["by_stage"].items() if v}
    assert set(z["by_stage"]) == {"MQL", "SAL", "SQL", "Opportunity"}
    assert min(z["by_stage"].values()) > 0
    silent_days = (AS_OF - zl["entered_at"]) / pd.Timedelta(days=1)
    assert (silent_days >= 180).all()
    assert silent_days.min() == pytest.approx(z["days_silent_at_as_of"]["min"], abs=0.06)
    assert silent_days.median() == pytest.approx(z["days_silent_at_as_of"]["median"], abs=0.06)
    assert silent_days.max() == pytest.approx(z["days_silent_at_as_of"]["max"], abs=0.06)
    # no activity after the zombie visit began, and an opportunity of theirs stays open
    acts = t["activities"]
    after = acts["lead_id"].isin(ids) & (
        acts["occurred_at"] > acts["lead_id"].map(zl["entered_at"])
    )
    assert not after.any()
    opp = t["opportunities"]
    theirs = opp[opp["lead_id"].isin(ids)]
    assert theirs["closed_at"].isna().all() and theirs["won"].isna().all()
    assert set(theirs["lead_id"]) == set(zl.index[zl["stage"] == "Opportunity"])


def test_zombies_are_most_of_the_old_open_visits(data):
    """The stale-lead policy has something to find: old open visits are mostly zombies."""
    _, t, truth = data
    last = _last_events(t)
    old_open = last[
        last["stage"].isin(["MQL", "SAL", "SQL", "Opportunity"])
        & (last["entered_at"] <= AS_OF - pd.Timedelta(days=180))
    ]
    zombie = old_open.index.isin(truth["zombies"]["lead_ids"])
    assert zombie.sum() == truth["zombies"]["n"]  # every zombie is one of them
    assert zombie.mean() > 0.9, old_open.loc[~zombie, "stage"].value_counts()
    # MQL, SAL and SQL are decided within weeks: an old open one is (almost) always a zombie
    early = old_open["stage"].isin(["MQL", "SAL", "SQL"])
    assert (~zombie & early).sum() <= 0.02 * early.sum()


def test_zombies_change_nothing_else(monkeypatch):
    """Zombies have their own random stream: without them every other row is the same."""
    from funnel_models.synthetic import PLANTED

    with_z = generate_tables(3_000, seed=8)
    monkeypatch.setitem(PLANTED, "p_zombie", 0.0)
    without, truth0 = generate_tables(3_000, seed=8)
    tables, truth = with_z
    assert truth0["zombies"]["n"] == 0 and truth["zombies"]["n"] > 10
    ids = set(truth["zombies"]["lead_ids"])
    pd.testing.assert_frame_equal(tables["leads"], without["leads"])
    for name, drop in (("stage_events", None), ("activities", "activity_id"),
                       ("opportunities", "opportunity_id")):  # fmt: skip
        a, b = tables[name], without[name]
        a = a[~a["lead_id"].isin(ids)].drop(columns=drop or []).reset_index(drop=True)
        b = b[~b["lead_id"].isin(ids)].drop(columns=drop or []).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, obj=name)
        # a zombie only loses rows: what it kept is what it had
        za = tables[name][tables[name]["lead_id"].isin(ids)]
        zb = without[name][without[name]["lead_id"].isin(ids)]
        assert 0 < len(za) <= len(zb) or name == "opportunities"
    assert truth["effects"] == truth0["effects"]


def test_realistic_funnel_totals(data):
    _, t, _ = data
    ev = t["stage_events"]
    old = t["leads"][t["leads"]["created_at"] < AS_OF - pd.Timedelta(days=365)]["lead_id"]
    e = ev[ev["lead_id"].isin(set(old))]
    reached = e.groupby("stage")["lead_id"].nunique()
    assert 0.30 <= reached["MQL"] / len(old) <= 0.45
    won, lost = reached["Won"], reached["Lost"]
    assert 0.25 <= won / (won + lost) <= 0.35
    assert 0.4 <= reached["Opportunity"] / reached["SQL"] <= 0.6


# ----------------------------------------------------------------------------- determinism
def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_same_seed_same_bytes(tmp_path, file_format):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, n_leads=1_500, seed=5, file_format=file_format, chunk_size=600)
    generate(b, n_leads=1_500, seed=5, file_format=file_format, chunk_size=600)
    generate(c, n_leads=1_500, seed=6, file_format=file_format, chunk_size=600)
    ba, bb, bc = _bytes(a), _bytes(b), _bytes(c)
    assert sorted(ba) == sorted(
        [f"{n}.{file_format}" for n in TABLES] + ["funnel.yaml", "ground_truth.json"]
    )
    assert ba == bb
    assert ba[f"leads.{file_format}"] != bc[f"leads.{file_format}"]
    assert ba[f"stage_events.{file_format}"] != bc[f"stage_events.{file_format}"]


def test_chunks_join_up(tmp_path):
    """Small chunks: ids stay unique and ordered across chunk boundaries."""
    generate(tmp_path, n_leads=2_000, seed=1, chunk_size=300)
    leads = pd.read_parquet(tmp_path / "leads.parquet")
    acts = pd.read_parquet(tmp_path / "activities.parquet")
    opp = pd.read_parquet(tmp_path / "opportunities.parquet")
    assert leads["lead_id"].is_unique and leads["lead_id"].is_monotonic_increasing
    assert leads["created_at"].is_monotonic_increasing or leads[
        "created_at"
    ].diff().min() > -pd.Timedelta(days=1)
    assert acts["activity_id"].is_unique and opp["opportunity_id"].is_unique
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "leads.parquet").num_row_groups == 7


def test_generate_tables_in_memory():
    tables, truth = generate_tables(800, seed=3)
    assert set(tables) == set(TABLES)
    assert len(tables["leads"]) == 800
    assert truth["rows"]["leads"] == 800
    assert str(tables["opportunities"]["won"].dtype) == "boolean"
    funnel = Funnel.default()
    assert set(tables["stage_events"]["stage"]) <= set(funnel.names)


def test_csv_round_trips(tmp_path):
    generate(tmp_path, n_leads=600, seed=2, file_format="csv")
    ev = pd.read_csv(tmp_path / "stage_events.csv")
    ts = pd.to_datetime(ev["entered_at"], utc=True)
    assert ts.notna().all() and (ts <= AS_OF).all()
    assert Funnel.from_yaml(tmp_path / "funnel.yaml").sla_hours[("MQL", "SAL")] == 24.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_leads": -5},
        {"n_leads": 0},
        {"n_leads": 2.5},
        {"seed": -1},
        {"as_of": "yesterday-ish"},
        {"file_format": "xlsx"},
        {"chunk_size": 0},
    ],
)
def test_bad_parameters(tmp_path, kwargs):
    with pytest.raises(FunnelConfigError):
        generate(tmp_path, **{"n_leads": 10, **kwargs})


# ----------------------------------------------------------------------------- CLI
def test_cli_in_process(tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["generate", "--out", str(out), "--leads", "500"]) == 0
    printed = capsys.readouterr()
    assert "leads" in printed.out and "500" in printed.out
    assert printed.err == ""  # no progress bar when stderr is not a terminal
    assert (out / "leads.parquet").exists() and (out / "ground_truth.json").exists()


def test_cli_subprocess(tmp_path):
    out = tmp_path / "gen"
    done = subprocess.run(
        [sys.executable, "-m", "funnel_models.cli", "generate", "--out", str(out), "--leads", "500",
         "--file-format", "csv", "--seed", "9"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out / "leads.csv")) == 500


def test_cli_bad_leads_exit_2_one_line_subprocess(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "funnel_models.cli", "generate", "--out", str(tmp_path),
         "--leads", "-5"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("funnel-models generate: error:")
    assert "-5" in lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["--leads", "many"],
        ["--leads", "0"],
        ["--seed", "-1"],
        ["--as-of", "2026-13-45"],
        ["--file-format", "xls"],
    ],
)
def test_cli_bad_values_exit_2_one_line(tmp_path, capsys, argv):
    try:
        code = main(["generate", "--out", str(tmp_path / "x"), *argv])
    except SystemExit as exc:  # argparse usage errors (e.g. an unknown --file-format)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "x" / "leads.parquet").exists()
