"""Funnels that do not look like our generator's: small, deterministic datasets for the harness.

Every shape is written by plain pandas/numpy code with a fixed seed into a canonical folder
(CSV or Parquet, plus ``funnel.yaml`` where the funnel is not the default) and comes back as a
:class:`Dataset`: the argv a user types (``SOURCE --format F``) and the *canonical stage events
computed here*, independently of the package, so that tests can compare the package's JSON
output with plain pandas. The same goes for the real datasets in ``../shared/datasets`` (the
events are derived from the raw CSVs with the adapters' documented rules, not read through the
adapters) and for the CRM fixtures in ``tests/fixtures`` (events read off the files by hand; the
same values are asserted in ``test_sources_crm.py`` / ``test_sources_mapping.py``).

Shapes (``SHAPES``; each a few hundred leads, dates in the two years before ``AS_OF``):

=================  ==========================================================================
two_stages         Lead → Opportunity, Won/Lost; no SLA at all (CSV)
no_sal             Lead → MQL → SQL → Opportunity; SLA MQL->SQL 48 h (Parquet)
renamed            Subscriber → Prospect → Qualified → Proposal, "Closed Won"/"Closed Lost"/
                   "Junk"; marketing owns Qualified, the hand-off is Qualified->Proposal with a
                   72 h SLA; CRM spellings in the events resolved by aliases (CSV)
no_opportunities   default funnel, no opportunities table, no amounts anywhere (Parquet)
zombies            default funnel; 40 % of leads reached MQL/SAL/SQL (each hand-off inside the
                   SLA) 300-700 days ago and have had no event and no activity since; the
                   rest move within days (Parquet)
all_within_sla     default funnel; every MQL->SAL within 2-20 h, every open visit younger than
                   any closed visit of its stage, segments behave identically (CSV)
one_segment        default funnel; every segment attribute has a single value (Parquet)
no_activities      default funnel without an activities table (CSV)
=================  ==========================================================================

Plus :func:`real` (``olist``, ``maven``, ``salvirt`` from ``../shared/datasets`` or
``$FUNNEL_MODELS_DATASETS``; skipped with a reason when the folder is absent),
:func:`fixture` (the CRM exports in ``tests/fixtures``) and :func:`generated` (the default
generated funnel, ``funnel-models generate``, with its zombies from ground_truth.json).

The Olist, Maven and fixture events name the stages the adapters write today (Olist: MQL,
Won; Maven: Engaging, Won, Lost; HubSpot/Salesforce: the pipeline's names). If an adapter
renames a stage, update the events here with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

AS_OF = pd.Timestamp("2025-06-30 12:00", tz="UTC")
#: A date before any event of any dataset here (the ``--as-of`` a confused user types).
BEFORE_ANY_DATA = "2015-01-01"


def _datasets_folder() -> Path:
    """``$FUNNEL_MODELS_DATASETS``, else ``../shared/datasets`` beside the checkout (main) or
    beside the worktrees' folder (``/work/wt/<name>`` -> ``/work/shared/datasets``)."""
    given = os.environ.get("FUNNEL_MODELS_DATASETS")
    if given:
        return Path(given)
    repo = Path(__file__).resolve().parents[1]
    candidates = [repo.parent / "shared" / "datasets", repo.parents[1] / "shared" / "datasets"]
    return next((c for c in candidates if c.exists()), candidates[0])


DATASETS = _datasets_folder()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)

#: Terminal outcome stages of the default funnel (a lead whose last event is one is closed).
DEFAULT_TERMINAL = ("Won", "Lost", "Disqualified")


@dataclass(frozen=True)
class Dataset:
    """A dataset as a user passes it to the CLI, with its canonical events computed here.

    ``events`` has ``lead_id``, ``stage`` (canonical name), ``entered_at`` (UTC) and holds the
    rows the package must accept (rejected rows are listed separately in ``rejected``).
    ``won`` / ``terminal`` name the won stage and every closed outcome stage.
    ``score`` is the extra argv of ``score fit`` (``None``: no target makes sense here).
    ``user_errors`` maps a command (see ``test_real_shapes.COMMANDS``) to the text of the one
    line a user must get instead of a result, for commands that do not apply to this source.
    ``zombies`` are leads planted as silent for good (``zombies``, ``generated``).
    """

    name: str
    source: Path
    format: str
    kind: str  # "shape", "generated", "real", "fixture", "flat"
    events: pd.DataFrame | None
    won: str = "Won"
    terminal: tuple[str, ...] = DEFAULT_TERMINAL
    score: tuple[str, ...] | None = None
    rejected: int = 0
    user_errors: dict[str, str] = field(default_factory=dict)
    zombies: frozenset[str] = frozenset()  # leads silent for good (their visit counts as lost)

    @property
    def argv(self) -> list[str]:
        return [str(self.source), "--format", self.format]


# ---------------------------------------------------------------------- writing helpers
def _iso(ts: pd.Series) -> pd.Series:
    return ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(folder: Path, name: str, frame: pd.DataFrame, fmt: str) -> None:
    if fmt == "parquet":
        frame.to_parquet(folder / f"{name}.parquet", index=False)
        return
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = _iso(out[col])
    out.to_csv(folder / f"{name}.csv", index=False)


def _funnel_yaml(folder: Path, spec: dict) -> None:
    (folder / "funnel.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")


def _lognormal_days(rng: np.random.Generator, median_days: float, sigma: float) -> pd.Timedelta:
    return pd.Timedelta(days=float(median_days * np.exp(sigma * rng.standard_normal())))


@dataclass(frozen=True)
class _Walk:
    """How leads move: per progression stage, P(advance) and the median days before leaving."""

    stages: tuple[str, ...]
    p_next: tuple[float, ...]  # last entry: P(won) at the last stage
    median_days: tuple[float, ...]
    drop: tuple[str, ...]  # outcome when a visit does not advance
    won: str = "Won"
    lost: str = "Lost"
    sigma: float = 0.6


def _walk(rng: np.random.Generator, created: pd.Series, walk: _Walk) -> pd.DataFrame:
    """Stage events of leads created at ``created`` (index = lead ids), cut at ``AS_OF``."""
    rows = []
    for lead_id, t in created.items():
        rows.append((lead_id, walk.stages[0], t))
        for k in range(len(walk.stages)):
            t = t + _lognormal_days(rng, walk.median_days[k], walk.sigma)
            if t > AS_OF:
                break  # still open at AS_OF
            last = k == len(walk.stages) - 1
            if rng.random() < walk.p_next[k]:
                nxt = walk.won if last else walk.stages[k + 1]
            else:
                nxt = walk.lost if last else walk.drop[k]
            rows.append((lead_id, nxt, t))
            if nxt not in walk.stages:
                break
    events = pd.DataFrame(rows, columns=["lead_id", "stage", "entered_at"])
    events["entered_at"] = pd.to_datetime(events["entered_at"], utc=True).dt.floor("s")
    return events


def _created(rng: np.random.Generator, n: int, prefix: str, days: float = 700) -> pd.Series:
    offsets = np.sort(rng.random(n)) * days
    ts = AS_OF - pd.to_timedelta(days - offsets, unit="D")
    ts = ts.round("min")
    ids = [f"{prefix}{i + 1:04d}" for i in range(n)]
    return pd.Series(ts, index=ids, name="created_at")


def _leads(rng: np.random.Generator, created: pd.Series, **attributes) -> pd.DataFrame:
    leads = pd.DataFrame({"lead_id": created.index, "created_at": created.to_numpy()})
    for name, values in attributes.items():
        leads[name] = rng.choice(values, size=len(leads)) if isinstance(values, list) else values
    return leads


def _activities(
    rng: np.random.Generator,
    events: pd.DataFrame,
    progression: tuple[str, ...],
    *,
    silent: set[str] | frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """A few activities inside each visit (up to ``AS_OF`` or 10 days for open ones).

    Leads in ``silent`` get no activity after their last stage event (zombies).
    """
    ev = events.sort_values(["lead_id", "entered_at"], kind="stable").reset_index(drop=True)
    nxt_at = ev.groupby("lead_id")["entered_at"].shift(-1)
    rows = []
    for i, rec in ev.iterrows():
        if rec["stage"] not in progression:
            continue
        start = rec["entered_at"]
        if pd.isna(nxt_at[i]):
            if rec["lead_id"] in silent:
                continue
            end = min(AS_OF, start + 10 * DAY)
        else:
            end = nxt_at[i]
        span = (end - start) / pd.Timedelta(seconds=1)
        for _ in range(int(rng.integers(1, 4))):
            at = start + pd.Timedelta(seconds=float(rng.random() * span))
            kind = "email" if rng.random() < 0.6 else "call"
            team = "marketing" if rec["stage"] in progression[:2] else "sales"
            rows.append((rec["lead_id"], at.floor("s"), kind, team))
    acts = pd.DataFrame(rows, columns=["lead_id", "occurred_at", "kind", "team"])
    acts.insert(0, "activity_id", [f"ACT{i + 1:05d}" for i in range(len(acts))])
    return acts


def _opportunities(
    rng: np.random.Generator, events: pd.DataFrame, opp_stage: str, won: str, lost: str
) -> pd.DataFrame:
    ev = events.sort_values(["lead_id", "entered_at"], kind="stable")
    opened = ev[ev["stage"] == opp_stage].set_index("lead_id")["entered_at"]
    closed = ev[ev["stage"].isin([won, lost])].set_index("lead_id")
    out = pd.DataFrame({"lead_id": opened.index, "created_at": opened.to_numpy()})
    out.insert(0, "opportunity_id", [f"OPP{i + 1:04d}" for i in range(len(out))])
    out["closed_at"] = out["lead_id"].map(closed["entered_at"])
    out["won"] = out["lead_id"].map(closed["stage"].eq(won)).astype("boolean")
    out["amount"] = np.round(np.exp(rng.normal(np.log(20_000), 0.7, len(out))), 0)
    return out


def _events_frame(events: pd.DataFrame) -> pd.DataFrame:
    out = events[["lead_id", "stage", "entered_at"]].copy()
    out["entered_at"] = pd.to_datetime(out["entered_at"], utc=True)
    return out.reset_index(drop=True)


_DEFAULT_WALK = _Walk(
    stages=("Lead", "MQL", "SAL", "SQL", "Opportunity"),
    p_next=(0.55, 0.7, 0.6, 0.5, 0.35),
    median_days=(4.0, 0.8, 6.0, 12.0, 40.0),
    drop=("Disqualified", "Disqualified", "Recycled", "Disqualified"),
)
_SEGMENTS = {
    "source": ["web_form", "trade_fair", "paid_search", "referral"],
    "industry": ["automotive", "medical devices", "energy"],
    "region": ["North", "South"],
}


# ---------------------------------------------------------------------- the shapes
def two_stages(folder: Path) -> Dataset:
    rng = np.random.default_rng(101)
    created = _created(rng, 400, "T")
    walk = _Walk(("Lead", "Opportunity"), (0.45, 0.35), (6.0, 30.0), ("Lost",))
    events = _walk(rng, created, walk)
    _write(folder, "leads", _leads(rng, created, **_SEGMENTS), "csv")
    _write(folder, "stage_events", events, "csv")
    _write(
        folder, "opportunities", _opportunities(rng, events, "Opportunity", "Won", "Lost"), "csv"
    )
    _write(folder, "activities", _activities(rng, events, walk.stages), "csv")
    _funnel_yaml(
        folder,
        {
            "stages": [
                {"name": "Lead", "owner": "marketing"},
                {"name": "Opportunity", "owner": "sales"},
            ],
            "outcomes": [
                {"name": "Won", "kind": "won", "owner": "sales"},
                {"name": "Lost", "kind": "lost", "owner": "sales"},
            ],
        },
    )
    return Dataset(
        "two_stages",
        folder,
        "folder",
        "shape",
        _events_frame(events),
        terminal=("Won", "Lost"),
        score=("--from-stage", "Lead", "--to-stage", "Opportunity"),
    )


def no_sal(folder: Path) -> Dataset:
    rng = np.random.default_rng(102)
    created = _created(rng, 450, "N")
    walk = _Walk(
        ("Lead", "MQL", "SQL", "Opportunity"),
        (0.6, 0.55, 0.5, 0.3),
        (3.0, 1.5, 10.0, 35.0),
        ("Disqualified", "Disqualified", "Lost"),
    )
    events = _walk(rng, created, walk)
    events["owner_id"] = np.where(events["stage"].isin(["Lead", "MQL"]), "MKT1", "AE1")
    _write(folder, "leads", _leads(rng, created, **_SEGMENTS), "parquet")
    _write(folder, "stage_events", events, "parquet")
    _write(folder, "activities", _activities(rng, events, walk.stages), "parquet")
    _write(
        folder,
        "opportunities",
        _opportunities(rng, events, "Opportunity", "Won", "Lost"),
        "parquet",
    )
    _funnel_yaml(
        folder,
        {
            "stages": [
                {"name": "Lead", "owner": "marketing"},
                {"name": "MQL", "owner": "marketing"},
                {"name": "SQL", "owner": "sales"},
                {"name": "Opportunity", "owner": "sales"},
            ],
            "outcomes": [
                {"name": "Won", "kind": "won", "owner": "sales"},
                {"name": "Lost", "kind": "lost", "owner": "sales"},
                {"name": "Disqualified", "kind": "disqualified", "owner": "either"},
            ],
            "sla_hours": {"MQL->SQL": 48},
        },
    )
    return Dataset(
        "no_sal", folder, "folder", "shape", _events_frame(events), score=("--from-stage", "MQL")
    )


#: renamed: the CRM's spelling of each canonical stage (resolved through funnel.yaml aliases)
RENAMED_SPELLING = {
    "Subscriber": "subscriber",
    "Prospect": "Marketing Prospect",
    "Qualified": "qualified",
    "Proposal": "Proposal Sent",
    "Closed Won": "closed won",
    "Closed Lost": "Closed Lost",
    "Junk": "junk",
}


def renamed(folder: Path) -> Dataset:
    rng = np.random.default_rng(103)
    created = _created(rng, 420, "R")
    walk = _Walk(
        ("Subscriber", "Prospect", "Qualified", "Proposal"),
        (0.5, 0.6, 0.65, 0.4),
        (5.0, 3.0, 1.5, 25.0),
        ("Junk", "Junk", "Closed Lost"),
        won="Closed Won",
        lost="Closed Lost",
    )
    events = _walk(rng, created, walk)
    written = events.copy()
    written["stage"] = written["stage"].map(RENAMED_SPELLING)
    _write(folder, "leads", _leads(rng, created, **_SEGMENTS, sdr_team=["Team A", "Team B"]), "csv")
    _write(folder, "stage_events", written, "csv")
    _write(folder, "activities", _activities(rng, events, walk.stages), "csv")
    _write(
        folder,
        "opportunities",
        _opportunities(rng, events, "Proposal", "Closed Won", "Closed Lost"),
        "csv",
    )
    _funnel_yaml(
        folder,
        {
            "stages": [
                {"name": "Subscriber", "owner": "marketing"},
                {"name": "Prospect", "owner": "marketing", "aliases": ["Marketing Prospect"]},
                {"name": "Qualified", "owner": "marketing"},
                {"name": "Proposal", "owner": "sales", "aliases": ["Proposal Sent"]},
            ],
            "outcomes": [
                {"name": "Closed Won", "kind": "won", "owner": "sales"},
                {"name": "Closed Lost", "kind": "lost", "owner": "sales"},
                {"name": "Junk", "kind": "disqualified", "owner": "either"},
            ],
            "sla_hours": {"Qualified->Proposal": 72},
        },
    )
    return Dataset(
        "renamed",
        folder,
        "folder",
        "shape",
        _events_frame(events),
        won="Closed Won",
        terminal=("Closed Won", "Closed Lost", "Junk"),
        score=("--from-stage", "Prospect", "--to-stage", "Qualified"),
    )


def no_opportunities(folder: Path) -> Dataset:
    rng = np.random.default_rng(104)
    created = _created(rng, 450, "O")
    events = _walk(rng, created, _DEFAULT_WALK)
    _write(folder, "leads", _leads(rng, created, **_SEGMENTS), "parquet")
    _write(folder, "stage_events", events, "parquet")
    _write(folder, "activities", _activities(rng, events, _DEFAULT_WALK.stages), "parquet")
    return Dataset("no_opportunities", folder, "folder", "shape", _events_frame(events), score=())


def zombies(folder: Path) -> Dataset:
    """60 % of leads move within days; 40 % stopped 300-700 days ago at MQL, SAL or SQL."""
    rng = np.random.default_rng(105)
    created = _created(rng, 500, "Z")
    is_zombie = rng.random(len(created)) < 0.4
    walk = _Walk(
        _DEFAULT_WALK.stages,
        _DEFAULT_WALK.p_next,
        (2.0, 0.5, 3.0, 5.0, 15.0),
        _DEFAULT_WALK.drop,
        sigma=0.4,
    )
    live = _walk(rng, created[~is_zombie], walk)
    rows = []
    created = created.copy()
    for lead_id in created.index[is_zombie]:
        # created 300-700 days ago, moved on within 2-20 h per stage (inside any SLA) to its
        # zombie stage, then silence: no event, no activity
        t = (AS_OF - pd.Timedelta(days=float(rng.uniform(300, 700)))).floor("min")
        created[lead_id] = t
        rows.append((lead_id, "Lead", t))
        for stage in ("MQL", "SAL", "SQL")[: int(rng.integers(1, 4))]:
            t = (t + pd.Timedelta(hours=float(rng.uniform(2, 20)))).floor("min")
            rows.append((lead_id, stage, t))
    dead = pd.DataFrame(rows, columns=["lead_id", "stage", "entered_at"])
    events = pd.concat([live, dead], ignore_index=True)
    _write(folder, "leads", _leads(rng, created, **_SEGMENTS), "parquet")
    _write(folder, "stage_events", events, "parquet")
    silent = set(dead["lead_id"])
    _write(folder, "activities", _activities(rng, events, walk.stages, silent=silent), "parquet")
    opps = _opportunities(rng, events, "Opportunity", "Won", "Lost")
    _write(folder, "opportunities", opps, "parquet")
    return Dataset(
        "zombies",
        folder,
        "folder",
        "shape",
        _events_frame(events),
        score=(),
        zombies=frozenset(silent),
    )


def all_within_sla(folder: Path) -> Dataset:
    """Deterministic: outcomes and durations follow the lead's number, not its segment.

    Lead ``i`` has segment ``source = i % 3``, ``region = (i // 3) % 2``; its path and its
    durations depend on ``(i // 6) % 10`` only, so every segment holds the same mix. Every
    MQL->SAL takes 2-20 h (SLA 24 h). Leads of the last day are open, and every open visit is
    younger than the shortest closed visit of its stage (nothing past its usual time).
    """
    n = 360
    created = AS_OF - pd.to_timedelta(np.linspace(700, 30, n - 12), unit="D")
    created = list(created.round("min")) + [AS_OF - pd.Timedelta(hours=h) for h in range(2, 14)]
    rows, leads = [], []
    sources = ("web_form", "webinar", "trade_fair")
    regions = ("North", "South")
    for i, t0 in enumerate(created):
        lead_id = f"W{i + 1:04d}"
        leads.append((lead_id, t0, sources[i % 3], regions[(i // 3) % 2]))
        rows.append((lead_id, "Lead", t0))
        if i >= n - 12:
            continue  # open in Lead for a few hours
        p = (i // 6) % 10
        t = t0 + pd.Timedelta(days=3 + p * 0.2)
        if p == 9:
            rows.append((lead_id, "Disqualified", t))
            continue
        rows.append((lead_id, "MQL", t))
        t = t + pd.Timedelta(hours=2 + 2 * p)  # 2 .. 18 h: always inside the 24 h SLA
        if p == 8:
            rows.append((lead_id, "Recycled", t))
            continue
        rows.append((lead_id, "SAL", t))
        t = t + pd.Timedelta(days=5 + p)
        if p in (6, 7):
            rows.append((lead_id, "Disqualified", t))
            continue
        rows.append((lead_id, "SQL", t))
        t = t + pd.Timedelta(days=7 + p)
        if p == 5:
            rows.append((lead_id, "Disqualified", t))
            continue
        rows.append((lead_id, "Opportunity", t))
        t = t + pd.Timedelta(days=20 + 2 * p)
        rows.append((lead_id, "Won" if p % 2 == 0 else "Lost", t))
    events = pd.DataFrame(rows, columns=["lead_id", "stage", "entered_at"])
    events["entered_at"] = pd.to_datetime(events["entered_at"], utc=True).dt.floor("min")
    frame = pd.DataFrame(leads, columns=["lead_id", "created_at", "source", "region"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True).dt.floor("min")
    _write(folder, "leads", frame, "csv")
    _write(folder, "stage_events", events, "csv")
    opps = _opportunities(np.random.default_rng(106), events, "Opportunity", "Won", "Lost")
    _write(folder, "opportunities", opps, "csv")
    return Dataset("all_within_sla", folder, "folder", "shape", _events_frame(events), score=())


def one_segment(folder: Path) -> Dataset:
    rng = np.random.default_rng(107)
    created = _created(rng, 400, "S")
    events = _walk(rng, created, _DEFAULT_WALK)
    leads = _leads(
        rng,
        created,
        source="web_form",
        industry="automotive",
        region="North",
        sdr_team="SDR One",
        company_size="SMB",
    )
    _write(folder, "leads", leads, "parquet")
    _write(folder, "stage_events", events, "parquet")
    _write(folder, "activities", _activities(rng, events, _DEFAULT_WALK.stages), "parquet")
    _write(
        folder,
        "opportunities",
        _opportunities(rng, events, "Opportunity", "Won", "Lost"),
        "parquet",
    )
    return Dataset("one_segment", folder, "folder", "shape", _events_frame(events), score=())


def no_activities(folder: Path) -> Dataset:
    rng = np.random.default_rng(108)
    created = _created(rng, 420, "A")
    events = _walk(rng, created, _DEFAULT_WALK)
    _write(folder, "leads", _leads(rng, created, **_SEGMENTS), "csv")
    _write(folder, "stage_events", events, "csv")
    _write(
        folder, "opportunities", _opportunities(rng, events, "Opportunity", "Won", "Lost"), "csv"
    )
    return Dataset("no_activities", folder, "folder", "shape", _events_frame(events), score=())


SHAPES: dict[str, Callable[[Path], Dataset]] = {
    f.__name__: f
    for f in (
        two_stages,
        no_sal,
        renamed,
        no_opportunities,
        zombies,
        all_within_sla,
        one_segment,
        no_activities,
    )
}


# ---------------------------------------------------------------------- real data
def real(name: str) -> Dataset:
    """A real dataset of ``DATASETS``; ``pytest.skip`` when it is absent."""
    import pytest

    folder, builder = _REAL[name]
    path = DATASETS / folder
    if not path.exists():
        pytest.skip(f"real data not present: {path} (the shared datasets folder is absent)")
    return builder(path)


def _olist(path: Path) -> Dataset:
    """Olist: every MQL enters MQL at first_contact_date; a closed deal enters Won at won_date.

    One deal is won 1.2 days before its MQL's first contact (PROVENANCE.md): that event is
    rejected ("before lead created") and is not in ``events``.
    """
    mql = pd.read_csv(path / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(path / "olist_closed_deals_dataset.csv")
    first = pd.to_datetime(mql.set_index("mql_id")["first_contact_date"], utc=True)
    won_at = pd.to_datetime(deals["won_date"], utc=True)
    ok = won_at >= deals["mql_id"].map(first)
    events = pd.concat(
        [
            pd.DataFrame({"lead_id": first.index, "stage": "MQL", "entered_at": first.to_numpy()}),
            pd.DataFrame(
                {"lead_id": deals.loc[ok, "mql_id"], "stage": "Won", "entered_at": won_at[ok]}
            ),
        ],
        ignore_index=True,
    )
    return Dataset(
        "olist",
        path,
        "olist",
        "real",
        _events_frame(events),
        terminal=("Won", "Lost", "Disqualified"),
        score=("--from-stage", "MQL", "--to-stage", "Won"),
        rejected=int((~ok).sum()),
    )


def _maven(path: Path) -> Dataset:
    """Maven: a deal enters Engaging at engage_date and Won/Lost at close_date.

    The 500 Prospecting rows have no date at all and are rejected (PROVENANCE.md).
    """
    pipe = pd.read_csv(path / "sales_pipeline.csv")
    dated = pipe[pipe["engage_date"].notna()]
    closed = dated[dated["close_date"].notna()]
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "lead_id": dated["opportunity_id"],
                    "stage": "Engaging",
                    "entered_at": pd.to_datetime(dated["engage_date"], utc=True),
                }
            ),
            pd.DataFrame(
                {
                    "lead_id": closed["opportunity_id"],
                    "stage": closed["deal_stage"],
                    "entered_at": pd.to_datetime(closed["close_date"], utc=True),
                }
            ),
        ],
        ignore_index=True,
    )
    return Dataset(
        "maven",
        path,
        "maven",
        "real",
        _events_frame(events),
        terminal=("Won", "Lost"),
        score=("--from-stage", "Engaging", "--to-stage", "Won"),
        rejected=int(pipe["engage_date"].isna().sum()),
    )


_NOT_A_DATASET = "cannot tell what kind of source"


def _salvirt(path: Path) -> Dataset:
    """Salvirt: one flat table of closed opportunities (no dates): only ``score`` applies."""
    return Dataset(
        "salvirt",
        path / "B2B_dataset.csv",
        "auto",
        "flat",
        None,
        score=("--target", "Status"),
        user_errors={
            c: _NOT_A_DATASET
            for c in (
                "validate",
                "funnel",
                "funnel_json",
                "funnel_before",
                "stalls",
                "stalls_json",
                "report",
                "slides",
            )
        },  # fmt: skip
    )


_REAL = {
    "olist": ("olist_marketing_funnel", _olist),
    "maven": ("maven_crm_sales_opportunities", _maven),
    "salvirt": ("salvirt_b2b_opportunities", _salvirt),
}
REAL = tuple(_REAL)


# ---------------------------------------------------------------------- CRM fixtures
def _hand(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["lead_id", "stage", "entered_at"])
    return _events_frame(frame)


#: The accepted canonical events of each fixture, read off the files by hand (the comments say
#: why; test_sources_crm.py and test_sources_mapping.py assert the same by hand).
_FIXTURES: dict[str, dict] = {
    "hubspot_contacts": {
        "file": "hubspot_contacts.csv",
        "format": "hubspot-contacts",
        # row 5 has no Record ID (its lead and its event rejected); 106's MQL date is before
        # its Create Date (rejected); Subscriber folds into Lead; Customer -> Won
        "rejected": 3,
        "events": [
            ("101", "Lead", "2024-01-02 09:15"),
            ("101", "MQL", "2024-01-05 11:30"),
            ("101", "SQL", "2024-01-10 08:00"),
            ("101", "Opportunity", "2024-01-20 12:00"),
            ("101", "Won", "2024-02-15 16:45"),
            ("102", "Lead", "2024-01-04 14:00"),
            ("102", "MQL", "2024-01-09 09:00"),
            ("103", "Lead", "2024-01-06 08:00"),
            ("104", "Lead", "2024-01-07 10:00"),
            ("106", "Lead", "2024-01-09 10:00"),
            ("106", "SQL", "2024-01-12 10:00"),
        ],
    },
    "hubspot_deals": {
        "file": "hubspot_deals.csv",
        "format": "hubspot-deals",
        # D4 has a malformed duration: the deal and its one event are rejected; D5 is Closed
        # Won with no stage date, so it enters Closed Won at its Close Date
        "rejected": 2,
        "won": "Closed Won",
        "terminal": ("Closed Won", "Closed Lost"),
        "events": [
            ("D1", "Appointment Scheduled", "2024-01-01 09:00"),
            ("D1", "Qualified To Buy", "2024-01-03 09:00"),
            ("D1", "Contract Sent", "2024-01-10 09:00"),
            ("D1", "Closed Won", "2024-01-20 09:00"),
            ("D2", "Appointment Scheduled", "2024-01-02 10:00"),
            ("D2", "Qualified To Buy", "2024-01-05 10:00"),
            ("D2", "Closed Lost", "2024-01-08 10:00"),
            ("D3", "Appointment Scheduled", "2024-01-03 00:00"),
            ("D5", "Appointment Scheduled", "2024-01-05 00:00"),
            ("D5", "Closed Won", "2024-02-01 00:00"),
        ],
    },
    "salesforce_leads": {
        "file": "salesforce_leads.csv",
        "format": "salesforce-leads",
        # row 5's CreatedDate is 'not a date' (lead and event rejected); row 4 is converted
        # without a ConvertedDate (its conversion event rejected); converted -> SQL
        "rejected": 3,
        "events": [
            ("00Q000000000001AAA", "Lead", "2024-03-01 09:00"),
            ("00Q000000000001AAA", "SQL", "2024-03-05 00:00"),
            ("00Q000000000002AAA", "Lead", "2024-03-02 10:30"),
            ("00Q000000000003AAA", "Lead", "2024-03-03 08:00"),
            ("00Q000000000004AAA", "Lead", "2024-03-04 08:00"),
        ],
    },
    "salesforce_opportunity_history": {
        "file": "salesforce_opportunity_history.csv",
        "format": "salesforce-opportunity-history",
        # row 2 only changes the Amount (rejected: no stage change)
        "rejected": 1,
        "won": "Closed Won",
        "terminal": ("Closed Won", "Closed Lost"),
        "events": [
            ("006000000000001AAA", "Prospecting", "2024-03-05 09:00"),
            ("006000000000001AAA", "Proposal/Price Quote", "2024-03-20 09:00"),
            ("006000000000001AAA", "Closed Won", "2024-04-02 09:00"),
            ("006000000000002AAA", "Prospecting", "2024-03-06 09:00"),
            ("006000000000002AAA", "Closed Lost", "2024-03-25 09:00"),
            ("006000000000003AAA", "Needs Analysis", "2024-03-09 09:00"),
        ],
    },
    "salesforce_field_history": {
        "file": "salesforce_opportunity_field_history.csv",
        "format": "salesforce-opportunity-history",
        # row 2 changes the Amount, not the stage (rejected)
        "rejected": 1,
        "won": "Closed Won",
        "terminal": ("Closed Won", "Closed Lost"),
        "events": [
            ("006000000000001AAA", "Prospecting", "2024-03-05 09:00"),
            ("006000000000001AAA", "Proposal/Price Quote", "2024-03-20 09:00"),
            ("006000000000001AAA", "Closed Won", "2024-04-02 09:00"),
        ],
    },
    "mapping_wide": {
        "file": "mapping/wide.yaml",
        "format": "mapping",
        "rejected": 0,
        "events": [
            ("1", "MQL", "2024-05-02"),
            ("1", "SAL", "2024-05-03"),
            ("2", "MQL", "2024-05-04"),
        ],
    },
    "mapping_long": {
        "file": "mapping/long.yaml",
        "format": "mapping",
        # history.csv row 3 has the unknown status 'Frozen' (rejected)
        "rejected": 1,
        "events": [("1", "MQL", "2024-05-02"), ("1", "SAL", "2024-05-03")],
    },
}
FIXTURE_NAMES = tuple(_FIXTURES)


def fixture(name: str) -> Dataset:
    spec = _FIXTURES[name]
    return Dataset(
        name,
        FIXTURES / spec["file"],
        spec["format"],
        "fixture",
        _hand(spec["events"]),
        won=spec.get("won", "Won"),
        terminal=spec.get("terminal", DEFAULT_TERMINAL),
        score=None,
        rejected=spec["rejected"],
    )


# ---------------------------------------------------------------------- generated
GENERATED_LEADS, GENERATED_SEED = 2000, 11


def generated(folder: Path) -> Dataset:
    """The default generated funnel, written as a user does: ``funnel-models generate``."""
    from funnel_models.cli import main

    code = main(
        ["generate", "--out", str(folder), "--leads", str(GENERATED_LEADS),
         "--seed", str(GENERATED_SEED)]
    )  # fmt: skip
    assert code == 0, f"funnel-models generate exited with {code}"
    events = pd.read_parquet(folder / "stage_events.parquet")
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    return Dataset(
        "generated",
        folder,
        "folder",
        "generated",
        _events_frame(events),
        score=(),
        zombies=frozenset(truth["zombies"]["lead_ids"]),
    )
