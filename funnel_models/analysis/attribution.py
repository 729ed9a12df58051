"""Channel attribution: which touches get credit for leads that reach Won (or move MQL→SAL).

Touches are the lead's ``source`` (at creation) and its activities' ``channel``
(or ``campaign_id``). :func:`attribute` gives each channel its share of the
conversions by first touch, last touch, linear, position-based (40 / 20 / 40)
and the Markov removal effect (a first-order chain over channels: how many
conversions would be lost if the channel were removed).

Examples
--------
>>> import pandas as pd
>>> import funnel_models as fm
>>> journeys = pd.DataFrame({
...     "journey": ["a", "a", "b", "c", "c"],
...     "channel": ["fair", "web", "web", "fair", "email"],
...     "converted": [1, 1, 1, 0, 0]})
>>> credit = fm.attribute(journeys)
>>> float(credit.loc["fair", "first_touch"]), float(credit.loc["web", "last_touch"])
(1.0, 2.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.analysis._features import (
    check_stage,
    events_until,
    reached_stages,
    resolve_as_of,
)

__all__ = ["attribute", "journeys", "markov_removal_effects"]

_START, _CONV, _NULL = "(start)", "(conversion)", "(null)"


def markov_removal_effects(paths: list[list[str]], converted: np.ndarray) -> pd.Series:
    """Removal effect of each channel in a first-order Markov chain of journeys.

    The chain runs ``(start) → channel … → (conversion)`` or ``→ (null)``;
    removing a channel sends its incoming transitions to ``(null)``. The
    removal effect is ``1 - P(conversion without it) / P(conversion)``.
    """
    converted = np.asarray(converted, dtype=bool)
    channels = sorted({c for p in paths for c in p})
    states = [_START, *channels, _CONV, _NULL]
    pos = {s: i for i, s in enumerate(states)}
    n = len(states)
    counts = np.zeros((n, n))
    for path, conv in zip(paths, converted, strict=True):
        seq = [_START, *path, _CONV if conv else _NULL]
        for a, b in zip(seq[:-1], seq[1:], strict=True):
            counts[pos[a], pos[b]] += 1
    rows = counts.sum(axis=1, keepdims=True)
    P = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)

    def p_conv(removed: str | None) -> float:
        Q = P.copy()
        if removed is not None:
            r = pos[removed]
            Q[:, pos[_NULL]] += Q[:, r]
            Q[:, r] = 0.0
        transient = [pos[_START], *[pos[c] for c in channels if c != removed]]
        T = Q[np.ix_(transient, transient)]
        R = Q[np.ix_(transient, [pos[_CONV]])]
        absorb = np.linalg.solve(np.eye(len(transient)) - T, R)
        return float(absorb[0, 0])

    base = p_conv(None)
    effects = {c: (1 - p_conv(c) / base) if base > 0 else 0.0 for c in channels}
    return pd.Series(effects, name="removal_effect").rename_axis("channel")


def attribute(
    journeys: pd.DataFrame,
    *,
    journey: str = "journey",
    channel: str = "channel",
    converted: str = "converted",
    position_weights: tuple[float, float] = (0.4, 0.4),
) -> pd.DataFrame:
    """Credit of each channel for the conversions of a table of touches.

    Parameters
    ----------
    journeys
        One row per touch, in time order within each journey, with the journey
        id, the channel and whether the journey converted (same on every row).
    position_weights
        First and last touch shares for the position-based model (the rest is
        spread evenly over the middle touches; a one-touch journey gives it all,
        a two-touch journey splits it in proportion).

    Returns
    -------
    DataFrame indexed by channel: conversions credited by ``first_touch``,
    ``last_touch``, ``linear``, ``position_based`` and ``markov`` (removal
    effects scaled to the number of conversions), plus ``removal_effect`` and
    ``touches``. Every credit column sums to the number of converted journeys.
    """
    for col in (journey, channel, converted):
        if col not in journeys:
            raise FunnelDataError(f"the journeys table needs a {col!r} column")
    t = journeys[[journey, channel, converted]].dropna(subset=[channel])
    t = t.assign(**{channel: t[channel].astype(str)})
    g = t.groupby(journey, sort=False)
    conv = g[converted].first().astype(bool)
    paths = g[channel].agg(list)
    n_conv = int(conv.sum())
    credit: dict[str, dict[str, float]] = {}

    def add(model: str, ch: str, value: float) -> None:
        credit.setdefault(ch, {}).setdefault(model, 0.0)
        credit[ch][model] += value

    first_w, last_w = position_weights
    for jid, path in paths.items():
        touches = len(path)
        for ch in path:
            add("touches", ch, 1.0)
        if not conv[jid]:
            continue
        add("first_touch", path[0], 1.0)
        add("last_touch", path[-1], 1.0)
        for ch in path:
            add("linear", ch, 1.0 / touches)
        if touches == 1:
            add("position_based", path[0], 1.0)
        elif touches == 2:
            add("position_based", path[0], first_w / (first_w + last_w))
            add("position_based", path[-1], last_w / (first_w + last_w))
        else:
            add("position_based", path[0], first_w)
            add("position_based", path[-1], last_w)
            for ch in path[1:-1]:
                add("position_based", ch, (1 - first_w - last_w) / (touches - 2))
    out = pd.DataFrame.from_dict(credit, orient="index").fillna(0.0)
    for col in ("first_touch", "last_touch", "linear", "position_based", "touches"):
        if col not in out:
            out[col] = 0.0
    if n_conv:
        removal = markov_removal_effects(list(paths), conv.to_numpy())
        removal = removal.reindex(out.index).fillna(0.0)
        total = removal.sum()
        out["markov"] = removal / total * n_conv if total > 0 else 0.0
        out["removal_effect"] = removal
    else:
        out["markov"] = 0.0
        out["removal_effect"] = 0.0
    out = out[
        [
            "first_touch",
            "last_touch",
            "linear",
            "position_based",
            "markov",
            "removal_effect",
            "touches",
        ]
    ]
    out.index.name = "channel"
    return out.sort_values("linear", ascending=False, kind="stable")


def journeys(
    dataset,
    *,
    goal: str = "Won",
    from_stage: str | None = None,
    touch: str = "channel",
    include_source: bool = True,
    team: str | None = None,
    as_of: Any = None,
) -> pd.DataFrame:
    """The touches of each lead, in time order, up to its conversion (or ``as_of``).

    With ``from_stage`` the journeys are the visits to that stage: touches while
    the lead was in it, converted when its next stage is ``goal`` or beyond
    (e.g. ``from_stage='MQL', goal='SAL'``: which touches move MQL→SAL). Without
    it, the whole life of the lead, converted when it reached ``goal``. Sources
    count as the first touch (``source: <value>``).
    """
    funnel = dataset.funnel
    goal = check_stage(funnel, goal, "goal")
    as_of = resolve_as_of(dataset, as_of)
    ev = events_until(dataset, as_of).reset_index(drop=True)
    acts = dataset.activities
    if touch not in acts.columns and not include_source:
        raise FunnelDataError(
            f"activities have no {touch!r} column; touches are channel or campaign_id"
        )
    a = acts.loc[acts["occurred_at"] <= as_of]
    if team is not None and "team" in a:
        a = a[a["team"] == team]
    cols = ["lead_id", "occurred_at"]
    a = (
        a[cols + [touch]].rename(columns={touch: "channel", "occurred_at": "at"})
        if touch in a
        else a[cols].assign(channel=np.nan).rename(columns={"occurred_at": "at"})
    )
    a = a.dropna(subset=["channel"])
    if include_source and "source" in dataset.leads:
        src = dataset.leads[["lead_id", "created_at", "source"]].dropna(subset=["source"])
        src = src[src["created_at"] <= as_of]
        src = pd.DataFrame(
            {
                "lead_id": src["lead_id"],
                "at": src["created_at"],
                "channel": "source: " + src["source"].astype(str),
            }
        )
        a = pd.concat([src, a], ignore_index=True)
    reached = reached_stages(funnel, goal)
    if from_stage is None:
        hit = ev[ev["stage"].isin(reached)].groupby("lead_id")["entered_at"].min().rename("end")
        touches = a.join(hit, on="lead_id")
        touches["converted"] = touches["end"].notna().astype(int)
        touches = touches[touches["end"].isna() | (touches["at"] <= touches["end"])]
        touches["journey"] = touches["lead_id"]
    else:
        from_stage = check_stage(funnel, from_stage, "from_stage")
        ev["next_stage"] = ev.groupby("lead_id", sort=False)["stage"].shift(-1)
        ev["next_at"] = ev.groupby("lead_id", sort=False)["entered_at"].shift(-1)
        ev["visit"] = ev.groupby(["lead_id", "stage"], sort=False).cumcount() + 1
        v = ev[ev["stage"] == from_stage]
        v = v.assign(
            journey=v["lead_id"] + "#" + v["visit"].astype(str),
            converted=v["next_stage"].isin(reached).astype(int),
            end=v["next_at"].fillna(as_of),
        )
        touches = a.merge(v[["lead_id", "journey", "entered_at", "end", "converted"]], on="lead_id")
        in_visit = touches["at"] <= touches["end"]
        # the source counts for the first visit only; activities while in the stage
        is_source = touches["channel"].astype(str).str.startswith("source: ")
        first_visit = touches["journey"].str.endswith("#1")
        touches = touches[
            in_visit & ((touches["at"] >= touches["entered_at"]) | (is_source & first_visit))
        ]
    touches = touches.sort_values(["journey", "at"], kind="stable")
    return touches[["journey", "lead_id", "at", "channel", "converted"]].reset_index(drop=True)
