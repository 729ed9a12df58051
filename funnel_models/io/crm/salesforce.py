"""Salesforce exports: the Lead object, and opportunity (or lead) stage history.

Lead export (``--format salesforce-leads``; Data Loader / Data Export ``Lead.csv``
with API names, or a report with the field labels). One row per lead:

* ``Id`` → ``lead_id``; ``CreatedDate`` → ``created_at`` and a ``Lead`` event;
* ``ConvertedDate`` (or ``IsConverted`` true) → a ``Converted`` event, which the
  adapter's funnel maps to ``SQL`` (a lead is converted when sales qualifies it);
  a converted lead without a ``ConvertedDate`` is rejected, not dropped;
* ``LeadSource`` → ``source``; ``ConvertedAccountId`` → ``account_id``;
  ``Status``, ``OwnerId``, ``Company``, ``Industry`` and every other field stay
  as snake_case attributes. ``Status`` has no date in the Lead object, so it
  becomes no event; export LeadHistory for status changes (below).

Stage history (``--format salesforce-opportunity-history``):

* ``OpportunityHistory`` (``OpportunityId``, ``CreatedDate``, ``StageName``,
  ``Amount``, ``Probability``, ``CloseDate``, ...): one row per change of stage,
  amount, probability or close date. A row whose ``StageName`` differs from the
  opportunity's previous row is a stage event; a row that repeats the stage
  (an amount or date change) is rejected with the rule "no stage change";
* ``OpportunityFieldHistory`` / ``LeadHistory`` (``OpportunityId`` or
  ``LeadId``, ``CreatedDate``, ``Field``, ``OldValue``, ``NewValue``): rows with
  ``Field`` = ``StageName`` / ``Status`` are events (``NewValue``), the
  ``created`` row enters the first ``OldValue``; rows of other fields are
  rejected with the rule "not a stage change".

Each opportunity (or lead) becomes a lead created at its first history row.
The stage order comes from ``funnel=``/``--funnel`` or a ``funnel.yaml`` next to
the export (every stage must be mapped, else a one-line error), or else from the
stages present: Salesforce's default opportunity stages in their default order,
other stages by median time after the first row, "won"/"lost" stages as outcomes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core._parsing import parse_timestamps
from funnel_models.core.dataset import RawTable
from funnel_models.core.funnel import Funnel, normalize_stage_key
from funnel_models.io.crm._export import (
    EventBuilder,
    Problems,
    check_stage_names,
    find_column,
    read_export,
    require_column,
    snake,
    text,
)
from funnel_models.io.crm.hubspot import _attributes, _sidecar

# Salesforce's default opportunity stages (OpportunityStage.SortOrder).
DEFAULT_OPPORTUNITY_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
)
# Salesforce's default lead statuses, for LeadHistory.
LEAD_STATUS_ALIASES = {
    "Open - Not Contacted": "Lead",
    "Working - Contacted": "SAL",
    "Closed - Converted": "SQL",
    "Closed - Not Converted": "Disqualified",
    "Converted": "SQL",
}


def salesforce_lead_funnel() -> Funnel:
    """The default funnel plus Salesforce's lead statuses and ``Converted`` → SQL."""
    spec = Funnel.default().to_dict()
    spec["aliases"] = {**spec.get("aliases", {}), **LEAD_STATUS_ALIASES}
    return Funnel.from_dict(spec)


# ---------------------------------------------------------------------- leads
def read_leads(path: str | Path, *, funnel=None):
    """Read a Salesforce Lead export (see the module docstring)."""
    path = Path(path)
    frame = read_export(path)
    where = str(path)
    lead_id = require_column(frame, where, "lead id", "Id", "Lead ID", "LeadId")
    created = require_column(
        frame, where, "created date", "CreatedDate", "Created Date", "Create Date"
    )
    converted_at = find_column(frame.columns, "ConvertedDate", "Converted Date")
    is_converted = find_column(frame.columns, "IsConverted", "Converted")
    mapping, mapping_label = _sidecar(path, funnel)
    result_funnel = mapping or salesforce_lead_funnel()
    if converted_at or is_converted:
        check_stage_names(
            ["Converted"],
            result_funnel,
            where=where,
            mapping=mapping_label or "(built-in)",
            columns=[converted_at or is_converted],
        )
    n = len(frame)
    rows = np.arange(1, n + 1)
    events = EventBuilder()
    owner = find_column(frame.columns, "OwnerId", "Lead Owner", "Owner")
    owner_values = text(frame[owner]) if owner else None
    events.add(frame[lead_id], "Lead", text(frame[created]), rows, where, mask=np.ones(n, bool))
    if converted_at or is_converted:
        date = text(frame[converted_at]) if converted_at else pd.Series([None] * n)
        flag = (
            text(frame[is_converted]).fillna("").str.casefold().isin(["true", "1", "yes"])
            if is_converted
            else pd.Series(False, index=range(n))
        )
        mask = date.notna().to_numpy(bool) | flag.to_numpy(bool)
        events.add(frame[lead_id], "Converted", date, rows, where, mask=mask, owner_id=owner_values)
    leads = pd.DataFrame({"lead_id": frame[lead_id], "created_at": frame[created]})
    consumed = {lead_id, created}
    source = find_column(frame.columns, "LeadSource", "Lead Source")
    if source:
        leads["source"] = text(frame[source])
        consumed.add(source)
    account = find_column(frame.columns, "ConvertedAccountId", "Converted Account ID")
    if account:
        leads["account_id"] = text(frame[account])
        consumed.add(account)
    _attributes(leads, frame, consumed)
    tables = {"leads": RawTable(leads, where), "stage_events": events.table(where)}
    return tables, f"salesforce-leads:{path}", result_funnel


# ---------------------------------------------------------------------- history
def read_history(path: str | Path, *, funnel=None):
    """Read OpportunityHistory, OpportunityFieldHistory or LeadHistory (module docstring)."""
    path = Path(path)
    frame = read_export(path)
    where = str(path)
    record = require_column(
        frame,
        where,
        "opportunity or lead id",
        "OpportunityId",
        "Opportunity ID",
        "LeadId",
        "Lead ID",
    )
    created = require_column(frame, where, "created date", "CreatedDate", "Created Date")
    field = find_column(frame.columns, "Field")
    n = len(frame)
    rows = np.arange(1, n + 1)
    ids = text(frame[record])
    when = _sortable_times(frame[created])
    order = np.lexsort((rows, when.to_numpy(), ids.fillna("").to_numpy()))
    problems = Problems(n)
    stage = pd.Series([None] * n, dtype=object)

    if field is None:
        stage_col = require_column(frame, where, "stage", "StageName", "Stage Name", "Stage")
        stage[:] = text(frame[stage_col]).to_numpy()
        previous, previous_row = {}, {}
        for i in order:
            key_ = ids.iloc[i]
            value = stage.iloc[i]
            norm = normalize_stage_key(value) if value is not None else None
            if key_ is not None and norm is not None and previous.get(key_) == norm:
                problems.add(
                    np.arange(n) == i,
                    "stage",
                    "no stage change",
                    f"history row records a change of amount, probability or close date; "
                    f"the stage {value!r} is unchanged since row {previous_row[key_]}",
                )
                continue
            if key_ is not None and norm is not None:
                previous[key_], previous_row[key_] = norm, int(rows[i])
        kind = "OpportunityHistory"
    else:
        old = find_column(frame.columns, "OldValue", "Old Value")
        new = require_column(frame, where, "new value", "NewValue", "New Value")
        fields = text(frame[field]).fillna("").map(normalize_stage_key)
        is_stage = fields.isin(["stagename", "status"]).to_numpy(bool)
        is_created = fields.isin(["created", "leadcreated", "opportunitycreated"]).to_numpy(bool)
        stage[is_stage] = text(frame[new])[is_stage].to_numpy()
        first_old = {}
        if old:
            olds = text(frame[old])
            for i in order:
                if is_stage[i] and ids.iloc[i] not in first_old and olds.iloc[i] is not None:
                    first_old[ids.iloc[i]] = olds.iloc[i]
        for i in np.flatnonzero(is_created):
            stage.iloc[i] = first_old.get(ids.iloc[i])
        problems.add(
            is_created & stage.isna().to_numpy(bool),
            "stage",
            "no stage change",
            "a 'created' row of a record whose stage never changed: its first stage is unknown",
        )
        other = ~(is_stage | is_created)
        fields_text = text(frame[field]).fillna("").to_numpy(object)
        problems.add(
            other,
            "stage",
            "not a stage change",
            np.array(
                [f"field {f!r} changed, not the stage (StageName / Status)" for f in fields_text],
                dtype=object,
            ),
        )
        kind = "field history"

    present = [s for s in pd.unique(stage.dropna().astype(str))]
    mapping, mapping_label = _sidecar(path, funnel)
    if mapping is None:
        result_funnel = _funnel_from_history(present, ids, when, stage)
        stage_of = {s: s for s in present}
    else:
        result_funnel = mapping
        stage_col_name = "StageName" if field is None else "NewValue"
        stage_of = check_stage_names(
            present,
            mapping,
            where=where,
            mapping=mapping_label,
            columns=[stage_col_name] * len(present),
        )
    events = pd.DataFrame(
        {
            "lead_id": frame[record],
            "stage": stage.map(lambda s: stage_of.get(s, s) if s is not None else None),
            "entered_at": frame[created],
        }
    )
    for column in frame.columns:
        if column not in (record, created):
            events[
                snake(column) if snake(column) not in events.columns else f"{snake(column)}_"
            ] = frame[column]
    # one lead per record, created at its first history row (the row's own text)
    first_rows = pd.Series(order).groupby(ids.iloc[order].fillna("").to_numpy()).first()
    first_rows = first_rows[first_rows.index != ""].sort_values().to_numpy()
    leads = pd.DataFrame(
        {
            "lead_id": frame[record].iloc[first_rows].to_numpy(),
            "created_at": frame[created].iloc[first_rows].to_numpy(),
        }
    )
    if len(leads) == 0:
        raise FunnelDataError(f"{where}: no {kind} rows with an id")
    tables = {
        "leads": RawTable(leads, f"{where} (first row of each record)", rows=rows[first_rows]),
        "stage_events": RawTable(events, where, problems=problems.frame()),
    }
    return tables, f"salesforce-history:{path}", result_funnel


def _sortable_times(values: pd.Series) -> pd.Series:
    """Times for ordering rows only (validation parses them again with the user's options)."""
    us, bad_us = parse_timestamps(values)
    if bad_us.any():
        eu, bad_eu = parse_timestamps(values, dayfirst=True)
        if bad_eu.sum() < bad_us.sum():
            us = eu
    ns = us.to_numpy("datetime64[ns]").astype("int64")
    return pd.Series(np.where(us.notna().to_numpy(), ns, np.iinfo("int64").max))


def _funnel_from_history(present, ids, when, stage) -> Funnel:
    """Stages present: Salesforce defaults in their order, others by median lag."""
    known = {normalize_stage_key(s): i for i, s in enumerate(DEFAULT_OPPORTUNITY_STAGES)}
    start = pd.Series(when.to_numpy()).groupby(ids.fillna("").to_numpy()).transform("min")
    lag = pd.Series(when.to_numpy() - start.to_numpy(), dtype="float64")
    ranked, outcomes, seen = [], [], set()
    for s in present:
        k = normalize_stage_key(s)
        if k in seen:
            continue
        seen.add(k)
        if "won" in k:
            outcomes.append({"name": s, "kind": "won", "owner": "sales"})
        elif "lost" in k:
            outcomes.append({"name": s, "kind": "lost", "owner": "sales"})
        else:
            median = lag[(stage == s).to_numpy()].median()
            ranked.append(((0, known[k], 0.0) if k in known else (1, 0, median), s))
    kinds = {o["kind"] for o in outcomes}
    if "won" not in kinds:
        outcomes.append({"name": "Won", "kind": "won", "owner": "sales"})
    if "lost" not in kinds:
        outcomes.append({"name": "Lost", "kind": "lost", "owner": "sales"})
    outcomes += [
        {"name": "Disqualified", "kind": "disqualified", "owner": "either"},
        {"name": "Recycled", "kind": "recycled", "owner": "marketing"},
    ]
    stages = [{"name": s, "owner": "sales"} for _, s in sorted(ranked)]
    return Funnel.from_dict(
        {"stages": stages or [{"name": "Opportunity", "owner": "sales"}], "outcomes": outcomes}
    )
