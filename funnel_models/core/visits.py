"""Stage visits ("spells") as one relational expression: the table every analysis reads.

A visit starts when a lead enters a progression stage (or Recycled) and ends at
the lead's next stage event. :func:`visits_expr` builds it from the validated
``stage_events`` relation of any Ibis backend (DuckDB, Spark, PostgreSQL) with
CASE expressions only (no helper tables), so the same expression runs
everywhere. Columns:

================ ==============================================================
lead_id          the lead
stage            the stage visited
visit            1 for the lead's first visit of that stage, 2 for the next ...
entered_at       when the visit started
exited_at        the next stage event's time (NULL while open)
next_stage       the next stage (NULL while open)
outcome          advanced, skipped, won, lost, disqualified, recycled,
                 backward, reentered (Recycled visits) or open
days_in_stage    to ``exited_at``, or to ``as_of`` while open
censored         True while open
(others)         every further column of the entry event (owner_id, team, ...)
================ ==============================================================

Events after ``as_of`` are ignored; events at the same instant are ordered by
funnel rank (Lead before MQL ... before the outcomes).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from funnel_models.core.funnel import Funnel

__all__ = ["VISIT_COLUMNS", "visits_expr"]

VISIT_COLUMNS = (
    "lead_id",
    "stage",
    "visit",
    "entered_at",
    "exited_at",
    "next_stage",
    "outcome",
    "days_in_stage",
    "censored",
)


def _lookup(column: ir.StringValue, values: dict[str, object], default: object) -> ir.Value:
    """``values[column]`` as a CASE expression (a stage name → its rank or kind)."""
    return ibis.cases(*((column == k, v) for k, v in values.items()), else_=default)


def visits_expr(
    events: ir.Table,
    funnel: Funnel,
    as_of: pd.Timestamp,
    *,
    visit_numbers: bool = True,
) -> ir.Table:
    """Stage visits of ``events`` (lead_id, stage, entered_at, ...) censored at ``as_of``.

    ``events`` holds canonical stage names and UTC timestamps (a validated
    ``stage_events`` relation). ``visit_numbers=False`` leaves ``visit`` at 0
    (numbering visits needs a second sort, by lead and stage).
    """
    progression = funnel.progression
    rank = {name: funnel.rank(name) for name in funnel.names}
    prog_rank = {name: i for i, name in enumerate(progression)}
    kind = {s.name: s.kind or "progression" for s in funnel.stages}
    as_of_lit = ibis.literal(as_of.to_pydatetime(), type=ibis.dtype("timestamp('UTC')"))

    ev = events.filter(events.entered_at <= as_of_lit)
    ev = ev.mutate(_rank=_lookup(ev.stage, rank, len(rank)))
    order = [ev.entered_at, ev._rank]
    by_lead = ibis.window(group_by=ev.lead_id, order_by=order)
    by_stage = ibis.window(group_by=[ev.lead_id, ev.stage], order_by=order)
    ev = ev.mutate(
        next_stage=ev.stage.lead().over(by_lead),
        exited_at=ev.entered_at.lead().over(by_lead),
        visit=(ibis.row_number().over(by_stage) + 1).cast("int64")
        if visit_numbers
        else ibis.literal(0, type="int64"),
    )
    recycled = funnel.outcome_stage("recycled")
    keep = ev.stage.isin(list(progression))
    if recycled is not None:
        keep = keep | (ev.stage == recycled)
    ev = ev.filter(keep)

    here_kind = _lookup(ev.stage, kind, "progression")
    here_prog = _lookup(ev.stage, prog_rank, -1)
    next_kind = _lookup(ev.next_stage, kind, "progression")
    next_prog = _lookup(ev.next_stage, prog_rank, -1)
    is_open = ev.next_stage.isnull()
    outcome = ibis.cases(
        (is_open, "open"),
        ((here_kind == "recycled") & (next_kind == "progression"), "reentered"),
        (next_kind != "progression", next_kind),
        (next_prog == here_prog + 1, "advanced"),
        (next_prog > here_prog + 1, "skipped"),
        else_="backward",
    )
    end = ibis.coalesce(ev.exited_at, as_of_lit)
    days = (end.epoch_seconds() - ev.entered_at.epoch_seconds()).cast("float64") / 86400.0
    extra = [c for c in ev.columns if c not in {*VISIT_COLUMNS, "_rank"}]
    return ev.select(
        "lead_id",
        "stage",
        "visit",
        "entered_at",
        "exited_at",
        "next_stage",
        outcome=outcome,
        days_in_stage=days,
        censored=is_open,
        **{c: ev[c] for c in extra},
    )
