"""Stage conversion: naive and censoring-aware, by cohort and by segment.

:func:`stage_counts` is the simple, naive view: how many leads ever entered
each stage and the share that reached the next one.

The censoring-aware views treat a lead that is still in a stage at ``as_of`` as
*open* (censored), not as lost (GUIDE §2):

* :func:`step_conversion` — per stage visit, the Aalen–Johansen cumulative
  incidence of moving forward within 30 / 90 / 180 days, with the competing
  outcomes lost, disqualified, recycled and backward; next to the naive share
  with its Wilson interval; optionally per segment (``by=``).
* :func:`reach_conversion` — per lead, the share that reaches one stage (or
  beyond) within N days of first entering another (e.g. MQL → SQL within 90
  days), by entry cohort (``cohort="week" | "month" | "quarter"``) and/or
  segment, with still-maturing cohorts marked.

Every table carries ``enough_data`` and a plain ``note`` saying why a row is
too small or too young to judge.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelConfigError
from funnel_models.analysis._survival import cumulative_incidence, step_value, wilson_interval
from funnel_models.analysis.visits import SPELL_COLUMNS
from funnel_models.core.dataset import FunnelDataset

__all__ = [
    "attach_attribute",
    "reach_conversion",
    "stage_counts",
    "step_conversion",
]

DEFAULT_DAYS = (30, 90, 180)
MIN_LEADS = 30
_STEP_CODES = {
    "advanced": 1,
    "skipped": 1,
    "won": 1,
    "lost": 2,
    "disqualified": 3,
    "recycled": 4,
    "backward": 5,
    "open": 0,
}
_STEP_LABELS = ["advanced", "lost", "disqualified", "recycled", "backward"]
_COHORT_FREQ = {"week": "W-SUN", "month": "M", "quarter": "Q"}


def stage_counts(dataset: FunnelDataset) -> pd.DataFrame:
    """Leads that ever entered each progression stage (and Won), with naive conversion.

    A lead counts once per stage however often it re-entered it. Naive: a lead
    still open counts as not converted, so recent cohorts look worse than they are.

    Returns
    -------
    DataFrame indexed by ``stage`` with columns ``owner``, ``entered``,
    ``step_conversion`` (entered / entered of the previous stage; NaN for the
    first stage) and ``conversion_from_top``.

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2024-01-01"] * 2})
    >>> events = pd.DataFrame({"lead_id": ["a", "b", "a"], "stage": ["Lead", "Lead", "MQL"],
    ...                        "entered_at": ["2024-01-01", "2024-01-01", "2024-01-02"]})
    >>> fm.stage_counts(fm.FunnelDataset.from_frames(leads=leads, stage_events=events))["entered"].tolist()
    [2, 1, 0, 0, 0, 0]
    """
    funnel = dataset.funnel
    won = funnel.outcome_stage("won")
    stages = [*funnel.progression, won]
    events = dataset.stage_events
    entered = (
        events.loc[events["stage"].isin(stages)]
        .drop_duplicates(["lead_id", "stage"])
        .groupby("stage")
        .size()
        .reindex(stages, fill_value=0)
        .astype("int64")
    )
    counts = entered.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.concatenate([[np.nan], counts[1:] / counts[:-1]])
        from_top = counts / counts[0] if counts[0] else np.full_like(counts, np.nan)
    step[1:][counts[:-1] == 0] = np.nan
    table = pd.DataFrame(
        {
            "owner": [funnel.owner(s) for s in stages],
            "entered": entered.to_numpy(),
            "step_conversion": step,
            "conversion_from_top": from_top,
        },
        index=pd.Index(stages, name="stage"),
    )
    return table


# ---------------------------------------------------------------------- segments
def attach_attribute(spells: pd.DataFrame, dataset: FunnelDataset, column: str) -> pd.Series:
    """The value of ``column`` for each spell, looked up where it lives.

    In order: a column of the spells themselves (stage_events columns such as
    ``owner_id`` or ``team``, of the entry event), of ``leads`` (``source``,
    ``industry``, ``sdr_team``, ...) or of ``accounts`` through the lead's
    ``account_id`` (``target_account``, ``size``, ...). Missing values become
    the string ``"(missing)"`` so they form their own segment.

    Raises :class:`FunnelConfigError` naming the closest column when the column
    is nowhere.
    """
    if column in spells.columns and column not in ("lead_id", "stage"):
        values = spells[column]
    elif column in dataset.leads.columns and column != "lead_id":
        values = spells["lead_id"].map(dataset.leads.set_index("lead_id")[column])
    elif (
        column in dataset.accounts.columns
        and "account_id" in dataset.leads.columns
        and column != "account_id"
    ):
        account = spells["lead_id"].map(dataset.leads.set_index("lead_id")["account_id"])
        values = account.map(dataset.accounts.set_index("account_id")[column])
    else:
        known = sorted(
            {c for c in spells.columns if c not in _SPELL_INTERNAL}
            | set(dataset.leads.columns)
            | set(dataset.accounts.columns)
        )
        match = difflib.get_close_matches(column, known, n=1, cutoff=0.5)
        hint = f"; did you mean {match[0]!r}?" if match else ""
        raise FunnelConfigError(
            f"unknown column {column!r} for a breakdown{hint} (columns: {', '.join(known)})"
        )
    values = values.astype(object).where(values.notna(), "(missing)")
    return values.astype(str).rename(column)


# Spell columns that are not attributes of the entry event.
_SPELL_INTERNAL = set(SPELL_COLUMNS) - {"lead_id", "stage"}


def _spells_for(dataset, as_of, engine, spells):
    if spells is not None:
        return spells, spells.attrs.get("as_of")
    from funnel_models.analysis.visits import spells as make_spells

    s = make_spells(dataset, as_of, engine=engine)
    return s, s.attrs["as_of"]


def _guard(n: int, min_leads: int, what: str) -> tuple[bool, str]:
    if n == 0:
        return False, f"no {what}"
    if n < min_leads:
        return False, f"only {n} {what}; at least {min_leads} are needed to judge"
    return True, ""


def _horizon_cols(days: Sequence[int]) -> list[int]:
    days = [int(d) for d in days]
    if not days or any(d <= 0 for d in days):
        raise FunnelConfigError(f"days must be positive whole numbers of days, got {days!r}")
    return days


# ---------------------------------------------------------------------- step conversion
def step_conversion(
    dataset: FunnelDataset,
    as_of: Any = None,
    *,
    days: Sequence[int] = DEFAULT_DAYS,
    by: str | None = None,
    min_leads: int = MIN_LEADS,
    conf_level: float = 0.95,
    engine: str = "duckdb",
    spells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Conversion from each stage to the next, naive and censoring-aware.

    Every visit of a progression stage is one trial. It *advances* when the
    lead's next event is a later progression stage or Won; the competing
    outcomes are lost, disqualified, recycled and backward; a visit with no
    next event by ``as_of`` is open (censored).

    Parameters
    ----------
    dataset
        A :class:`~funnel_models.FunnelDataset`.
    as_of
        Snapshot date; default the latest stage event.
    days
        Horizons for the censoring-aware conversion.
    by
        Optional attribute to break down by (a column of stage_events, leads
        or accounts; see :func:`attach_attribute`).
    min_leads
        Segments with fewer stage visits get ``enough_data=False`` and a note.
    conf_level
        Coverage of all intervals.
    engine
        Where spells are computed (``"duckdb"`` or ``"spark"``).
    spells
        Precomputed :func:`funnel_models.analysis.visits` output to reuse.

    Returns
    -------
    DataFrame indexed by ``stage`` (or ``(by, stage)``) with ``owner``,
    ``entered`` (visits), ``advanced``, ``lost``, ``disqualified``,
    ``recycled``, ``backward``, ``still_open``; ``naive_conversion`` (advanced /
    entered: open visits count as failures) with ``naive_lower`` /
    ``naive_upper`` (Wilson); for each horizon ``conversion_<d>d`` with
    ``_lower`` / ``_upper`` (Aalen–Johansen cumulative incidence of advancing
    within d days); ``conversion_from_top`` (naive share of the top stage's
    leads that ever reached this stage); ``enough_data`` and ``note``.

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": list("abc"), "created_at": ["2024-01-01"] * 3})
    >>> events = pd.DataFrame({   # b entered MQL 3 days before as_of and is still open
    ...     "lead_id": list("aabcc"), "stage": ["MQL", "SAL", "MQL", "MQL", "Lost"],
    ...     "entered_at": ["2024-01-01", "2024-01-11", "2024-01-18", "2024-01-01", "2024-01-06"]})
    >>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    >>> t = fm.step_conversion(ds, as_of="2024-01-21", days=[30], min_leads=1)
    >>> [int(v) for v in t.loc["MQL", ["entered", "advanced", "lost", "still_open"]]]
    [3, 1, 1, 1]
    >>> round(float(t.loc["MQL", "naive_conversion"]), 3), round(float(t.loc["MQL", "conversion_30d"]), 3)
    (0.333, 0.5)
    """
    horizons = _horizon_cols(days)
    s, as_of_ts = _spells_for(dataset, as_of, engine, spells)
    funnel = dataset.funnel
    progression = list(funnel.progression)
    s = s[s["stage"].isin(progression)]
    top_reach = _reach_from_top(s, progression)
    if by is None:
        table = _step_table(s, funnel, horizons, min_leads, conf_level, top_reach)
        table.attrs["as_of"] = as_of_ts
        return table
    seg = attach_attribute(s, dataset, by)
    parts = []
    for value, part in s.groupby(seg, sort=True):
        reach = _reach_from_top(part, progression)
        t = _step_table(part, funnel, horizons, min_leads, conf_level, reach)
        t.insert(0, by, value)
        parts.append(t.reset_index())
    if not parts:
        table = _step_table(s, funnel, horizons, min_leads, conf_level, top_reach).iloc[:0]
        table.insert(0, by, pd.Series(dtype=str))
        table = table.reset_index()
    else:
        table = pd.concat(parts, ignore_index=True)
    table = table.set_index([by, "stage"])
    table.attrs["as_of"] = as_of_ts
    return table


def _reach_from_top(s: pd.DataFrame, progression: list[str]) -> pd.Series:
    """Leads that ever reached each stage (or beyond), over leads that entered the top stage."""
    rank = {name: i for i, name in enumerate(progression)}
    best = s.assign(_r=s["stage"].map(rank)).groupby("lead_id")["_r"].max()
    won = s.loc[s["outcome"] == "won", "lead_id"].unique()
    best.loc[best.index.isin(won)] = len(progression)
    present = s.groupby("lead_id")["stage"].agg(lambda x: set(x))
    top_candidates = [st for st in progression if (s["stage"] == st).any()]
    if not top_candidates:
        return pd.Series(np.nan, index=progression)
    top = top_candidates[0]
    at_top = present.index[present.map(lambda x: top in x)]
    n_top = len(at_top)
    reached = {st: int((best.loc[at_top] >= rank[st]).sum()) for st in progression}
    return pd.Series(
        {
            st: (reached[st] / n_top if n_top and rank[st] >= rank[top] else np.nan)
            for st in progression
        }
    )


def _step_table(s, funnel, horizons, min_leads, conf_level, top_reach) -> pd.DataFrame:
    rows = []
    for stage in funnel.progression:
        part = s[s["stage"] == stage]
        n = len(part)
        counts = part["outcome"].value_counts()
        advanced = int(counts.get("advanced", 0) + counts.get("skipped", 0) + counts.get("won", 0))
        row: dict[str, Any] = {
            "stage": stage,
            "owner": funnel.owner(stage),
            "entered": n,
            "advanced": advanced,
            "lost": int(counts.get("lost", 0)),
            "disqualified": int(counts.get("disqualified", 0)),
            "recycled": int(counts.get("recycled", 0)),
            "backward": int(counts.get("backward", 0)),
            "still_open": int(counts.get("open", 0)),
        }
        low, high = wilson_interval(advanced, n, conf_level=conf_level)
        row["naive_conversion"] = advanced / n if n else np.nan
        row["naive_lower"], row["naive_upper"] = float(low), float(high)
        enough, note = _guard(n, min_leads, f"visits of {stage}")
        if n:
            codes = part["outcome"].map(_STEP_CODES).to_numpy()
            cif = cumulative_incidence(
                part["days_in_stage"].to_numpy(),
                codes,
                labels=_STEP_LABELS,
                conf_level=conf_level,
            )
            at = step_value(cif[["advanced", "advanced_lower", "advanced_upper"]], horizons)
            max_follow = float(part["days_in_stage"].max())
            all_closed = not part["censored"].any()
        for h, (_, vals) in zip(horizons, at.iterrows() if n else [], strict=False):
            row[f"conversion_{h}d"] = vals["advanced"]
            row[f"conversion_{h}d_lower"] = vals["advanced_lower"]
            row[f"conversion_{h}d_upper"] = vals["advanced_upper"]
        if n and not all_closed and max_follow < max(horizons):
            extra = f"followed up for at most {max_follow:.0f} days, less than {max(horizons)}"
            note = f"{note}; {extra}" if note else extra
        row["conversion_from_top"] = top_reach.get(stage, np.nan)
        row["enough_data"] = enough
        row["note"] = note
        rows.append(row)
    table = pd.DataFrame(rows).set_index("stage")
    for h in horizons:
        for suffix in ("", "_lower", "_upper"):
            col = f"conversion_{h}d{suffix}"
            if col not in table.columns:
                table[col] = np.nan
    order = [
        "owner",
        "entered",
        "advanced",
        "lost",
        "disqualified",
        "recycled",
        "backward",
        "still_open",
        "naive_conversion",
        "naive_lower",
        "naive_upper",
        *[f"conversion_{h}d{sfx}" for h in horizons for sfx in ("", "_lower", "_upper")],
        "conversion_from_top",
        "enough_data",
        "note",
    ]
    return table[order]


# ---------------------------------------------------------------------- reach conversion
def reach_conversion(
    dataset: FunnelDataset,
    from_stage: str,
    to_stage: str,
    as_of: Any = None,
    *,
    days: Sequence[int] = DEFAULT_DAYS,
    cohort: str | None = None,
    by: str | None = None,
    min_leads: int = MIN_LEADS,
    conf_level: float = 0.95,
    engine: str = "duckdb",
    spells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Share of leads reaching ``to_stage`` within N days of first entering ``from_stage``.

    Each lead counts once, from its first entry into ``from_stage``. It
    *reaches* the target when it later enters ``to_stage``, any later
    progression stage, or ``Won`` (an outcome stage as target: that outcome).
    Competing outcomes: the lead ends in Lost or Disqualified first. A lead that
    is still open — in a stage or in nurture (Recycled) — is censored at
    ``as_of``.

    Parameters
    ----------
    from_stage, to_stage
        Stage names of the funnel (``to_stage`` may be an outcome, e.g. ``"Won"``).
    cohort
        ``"week"``, ``"month"`` or ``"quarter"``: one row per entry cohort (the
        period of the first ``from_stage`` entry, UTC).
    by
        Optional attribute to break down by (see :func:`attach_attribute`).
    days, min_leads, conf_level, engine, spells, as_of
        As in :func:`step_conversion`.

    Returns
    -------
    DataFrame indexed by the cohort and/or segment (a single row ``"all"``
    otherwise) with ``leads``, ``reached`` (by ``as_of``), ``lost``,
    ``still_open``, ``naive_conversion`` (reached / leads) with Wilson
    interval; for each horizon ``naive_<d>d`` (reached within d days / leads:
    the naive, biased-low figure), ``conversion_<d>d`` with ``_lower`` /
    ``_upper`` (Aalen–Johansen cumulative incidence) and ``maturing_<d>d``
    (True when some leads of the row have been followed for less than d
    days); ``enough_data`` and ``note``.

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": list("abc"), "created_at": ["2024-01-01"] * 3})
    >>> events = pd.DataFrame({
    ...     "lead_id": list("aabcc"), "stage": ["MQL", "SQL", "MQL", "MQL", "Lost"],
    ...     "entered_at": ["2024-01-01", "2024-01-11", "2024-01-18", "2024-01-01", "2024-01-06"]})
    >>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    >>> r = fm.reach_conversion(ds, "MQL", "SQL", as_of="2024-01-21", days=[30], min_leads=1)
    >>> [int(v) for v in r.loc["all", ["leads", "reached", "lost", "still_open"]]]
    [3, 1, 1, 1]
    >>> bool(r.loc["all", "maturing_30d"]), round(float(r.loc["all", "conversion_30d"]), 3)
    (True, 0.5)
    """
    horizons = _horizon_cols(days)
    funnel = dataset.funnel
    for name in (from_stage, to_stage):
        if name not in funnel.names:
            match = difflib.get_close_matches(name, funnel.names, n=1, cutoff=0.5)
            hint = f"; did you mean {match[0]!r}?" if match else ""
            raise FunnelConfigError(
                f"{name!r} is not a stage of this funnel{hint} (stages: {', '.join(funnel.names)})"
            )
    if cohort is not None and cohort not in _COHORT_FREQ:
        raise FunnelConfigError(f"cohort must be one of {', '.join(_COHORT_FREQ)}, not {cohort!r}")
    s, as_of_ts = _spells_for(dataset, as_of, engine, spells)
    leads = _reach_durations(s, funnel, from_stage, to_stage, as_of_ts)
    keys: list[str] = []
    if cohort is not None:
        naive = leads["start"].dt.tz_localize(None)
        leads["cohort"] = naive.dt.to_period(_COHORT_FREQ[cohort]).astype(str)
        leads["_cohort_end"] = naive.dt.to_period(_COHORT_FREQ[cohort]).dt.end_time.dt.tz_localize(
            "UTC"
        )
        keys.append("cohort")
    if by is not None:
        first = s[s["stage"] == from_stage].drop_duplicates("lead_id")
        seg = attach_attribute(first, dataset, by)
        leads[by] = leads["lead_id"].map(pd.Series(seg.to_numpy(), index=first["lead_id"]))
        keys.append(by)
    rows = []
    groups = leads.groupby(keys, sort=True) if keys else [("all", leads)]
    if leads.empty:
        groups = []
    for key, part in groups:
        row = _reach_row(part, horizons, min_leads, conf_level, as_of_ts, cohort is not None)
        if keys:
            key = key if isinstance(key, tuple) else (key,)
            row.update(dict(zip(keys, key, strict=True)))
        rows.append(row)
    columns = _reach_columns(horizons)
    table = pd.DataFrame(columns=keys + columns) if not rows else pd.DataFrame(rows)
    if keys:
        table = table.set_index(keys)
    else:
        table.index = pd.Index(["all"] * len(table), name="group")
    table = table[columns]
    table.attrs.update({"as_of": as_of_ts, "from_stage": from_stage, "to_stage": to_stage})
    return table


def _reach_columns(horizons):
    cols = [
        "leads",
        "reached",
        "lost",
        "still_open",
        "naive_conversion",
        "naive_lower",
        "naive_upper",
    ]
    for h in horizons:
        cols += [
            f"naive_{h}d",
            f"conversion_{h}d",
            f"conversion_{h}d_lower",
            f"conversion_{h}d_upper",
            f"maturing_{h}d",
        ]
    return cols + ["enough_data", "note"]


def _reach_durations(s, funnel, from_stage, to_stage, as_of_ts) -> pd.DataFrame:
    """One row per lead that entered ``from_stage``: start, duration (days) and code.

    Codes: 1 reached, 2 ended lost/disqualified first, 0 censored.
    """
    progression = list(funnel.progression)
    terminal = {funnel.outcome_stage(k) for k in ("lost", "disqualified")} - {None}
    starts = s.loc[s["stage"] == from_stage].groupby("lead_id")["entered_at"].min()
    if starts.empty:
        return pd.DataFrame(
            {
                "lead_id": pd.Series(dtype=str),
                "start": pd.Series(dtype="datetime64[ns, UTC]"),
                "days": pd.Series(dtype=float),
                "code": pd.Series(dtype=int),
            }
        )
    s = s[s["lead_id"].isin(starts.index)].copy()
    s["_start"] = s["lead_id"].map(starts)
    after = s[s["entered_at"] >= s["_start"]]
    # times at which the lead reached the target
    if to_stage in progression:
        target_rank = progression.index(to_stage)
        rank = after["stage"].map({n: i for i, n in enumerate(progression)})
        hit_entries = after.loc[rank >= target_rank, ["lead_id", "entered_at"]]
        hit_won = after.loc[after["outcome"] == "won", ["lead_id", "exited_at"]].rename(
            columns={"exited_at": "entered_at"}
        )
        hits = pd.concat([hit_entries, hit_won])
    else:
        hits = after.loc[after["next_stage"] == to_stage, ["lead_id", "exited_at"]].rename(
            columns={"exited_at": "entered_at"}
        )
    reach_at = hits.groupby("lead_id")["entered_at"].min()
    # the lead's final event, when it is a terminal outcome
    last = s.sort_values(["lead_id", "entered_at"], kind="stable").groupby("lead_id").tail(1)
    last = last.set_index("lead_id")
    is_terminal = last["next_stage"].isin(terminal - {to_stage})
    end_at = last.loc[is_terminal, "exited_at"]
    out = pd.DataFrame({"lead_id": starts.index, "start": starts.to_numpy()})
    out["reach_at"] = pd.to_datetime(reach_at.reindex(out["lead_id"]).to_numpy(), utc=True)
    out["end_at"] = pd.to_datetime(end_at.reindex(out["lead_id"]).to_numpy(), utc=True)
    reached = out["reach_at"].notna()
    ended = ~reached & out["end_at"].notna()
    stop = out["reach_at"].where(reached, out["end_at"].where(ended, as_of_ts))
    out["days"] = (pd.to_datetime(stop, utc=True) - out["start"]).dt.total_seconds() / 86400.0
    out["code"] = np.where(reached, 1, np.where(ended, 2, 0))
    out["follow_up_days"] = (as_of_ts - out["start"]).dt.total_seconds() / 86400.0
    return out


def _reach_row(part, horizons, min_leads, conf_level, as_of_ts, has_cohort) -> dict:
    n = len(part)
    reached = int((part["code"] == 1).sum())
    row: dict[str, Any] = {
        "leads": n,
        "reached": reached,
        "lost": int((part["code"] == 2).sum()),
        "still_open": int((part["code"] == 0).sum()),
        "naive_conversion": reached / n if n else np.nan,
    }
    low, high = wilson_interval(reached, n, conf_level=conf_level)
    row["naive_lower"], row["naive_upper"] = float(low), float(high)
    enough, note = _guard(n, min_leads, "leads")
    cif = cumulative_incidence(
        part["days"].to_numpy(),
        part["code"].to_numpy(),
        labels=["reached", "ended"],
        conf_level=conf_level,
    )
    vals = step_value(cif[["reached", "reached_lower", "reached_upper"]], horizons)
    min_follow = float(part["follow_up_days"].min())
    maturing_notes = []
    for h, (_, v) in zip(horizons, vals.iterrows(), strict=True):
        row[f"naive_{h}d"] = float(((part["code"] == 1) & (part["days"] <= h)).sum() / n)
        row[f"conversion_{h}d"] = v["reached"]
        row[f"conversion_{h}d_lower"] = v["reached_lower"]
        row[f"conversion_{h}d_upper"] = v["reached_upper"]
        maturing = min_follow < h
        row[f"maturing_{h}d"] = maturing
        if maturing:
            maturing_notes.append(h)
    if maturing_notes:
        what = "cohort" if has_cohort else "group"
        extra = (
            f"still maturing: some leads of this {what} entered only {min_follow:.0f} days "
            f"before as_of (< {max(maturing_notes)} days)"
        )
        note = f"{note}; {extra}" if note else extra
    row["enough_data"] = enough
    row["note"] = note
    return row
