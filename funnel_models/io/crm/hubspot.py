"""HubSpot exports: contacts (lifecycle stage dates) and deals (pipeline stage dates).

Contacts (``--format hubspot-contacts``): one row per contact, as exported from
*CRM > Contacts > Export* with the lifecycle properties. Columns used:

* ``Record ID`` (or ``Contact ID``) → ``lead_id``; ``Create Date`` → ``created_at``;
* ``Became a Subscriber Date``, ``Became a Lead Date``, ``Became a Marketing
  Qualified Lead Date``, ``Became a Sales Qualified Lead Date``, ``Became an
  Opportunity Date``, ``Became a Customer Date`` (and the newer
  ``Date entered "<stage> (Lifecycle Stage Pipeline)"`` columns) → one stage
  event per filled cell, the stage mapped through the funnel's aliases
  (Subscriber → Lead, Customer → Won). Two columns that map to the same stage
  (Subscriber and Lead) give one event: the earlier lifecycle stage's date.
  ``Became an Evangelist Date`` and ``Became an Other Lifecycle Date`` are
  after or outside the funnel and stay as attributes;
* ``Original Source`` → ``source``; ``Associated Company ID`` → ``account_id``;
  ``Lifecycle Stage``, ``Lead Status``, ``Contact owner`` and every other column
  stay as snake_case attributes (``lifecycle_stage``, ``lead_status``, ...).

Deals (``--format hubspot-deals``): one row per deal (*CRM > Deals > Export*,
with the "Date entered" stage properties). Each deal is a lead of the pipeline
funnel:

* ``Record ID`` (or ``Deal ID``) → ``lead_id``; ``Create Date`` → ``created_at``;
  ``Amount``, ``Close Date``, ``Pipeline``, ``Deal Stage``, ``Deal owner`` stay
  as attributes; ``Associated Company IDs`` → ``account_id``;
* ``Date entered "<stage> (<pipeline>)"`` → a stage event per filled cell
  (``owner_id`` = ``Deal owner``); a closed-won deal without a won-stage date
  gets ``Won`` at its ``Close Date``;
* ``Cumulative time in "<stage> (<pipeline>)" (HH:mm:ss)`` → ``hours_in_<stage>``
  (hours may exceed 24: ``2705:47:48``); a malformed duration rejects the deal
  with a reason naming the column and value.

The pipeline's stage order comes from a mapping — ``funnel=`` / ``--funnel`` or
a ``funnel.yaml`` next to the export, whose stage names and aliases must cover
every stage column (otherwise a one-line error names the stage) — or, without
one, from the stages present: ordered by their median time after deal creation,
stages named like "won"/"lost" becoming the outcomes.

Examples
--------
>>> import funnel_models as fm                                      # doctest: +SKIP
>>> ds = fm.load("hubspot-crm-exports-all-contacts.csv")            # doctest: +SKIP
>>> ds = fm.load("deals.csv", format="hubspot-deals", funnel="pipeline.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from funnel_models.core._parsing import parse_timestamps
from funnel_models.core.dataset import RawTable
from funnel_models.core.funnel import Funnel, normalize_stage_key
from funnel_models.io.crm._export import (
    EventBuilder,
    Problems,
    check_stage_names,
    find_column,
    parse_durations,
    read_export,
    require_column,
    snake,
    text,
)

_BECAME = re.compile(r"^became an?\s+(.+?)\s+date$", re.IGNORECASE)
_LCS_INTERNAL = re.compile(r"^hs_lifecyclestage_(.+)_date$", re.IGNORECASE)
_ENTERED = re.compile(r'^date entered\s+"?(.+?)\s*\(([^()]*)\)"?$', re.IGNORECASE)
_ENTERED_NO_PIPELINE = re.compile(r'^date entered\s+"?(.+?)"?$', re.IGNORECASE)
_CUMULATIVE = re.compile(
    r'^cumulative time in\s+"?(.+?)\s*\(([^()]*)\)"?\s*(?:\(hh:mm:ss\))?$', re.IGNORECASE
)
# Lifecycle stages after or beside the funnel: kept as attributes, never an error.
_OUTSIDE_FUNNEL = {"evangelist", "other", "otherlifecycle", "otherlifecyclestage"}


def _sidecar(path: Path, funnel):
    """The funnel to map stages with, and where it came from."""
    if funnel is not None:
        return funnel, "given with --funnel"
    sidecar = path.parent / "funnel.yaml"
    if sidecar.exists():
        return Funnel.from_yaml(sidecar), str(sidecar)
    return None, None


# ---------------------------------------------------------------------- contacts
def read_contacts(path: str | Path, *, funnel=None):
    """Read a HubSpot contacts export (see the module docstring)."""
    path = Path(path)
    frame = read_export(path)
    where = str(path)
    lead_id = require_column(
        frame, where, "contact id", "Record ID", "Contact ID", "hs_object_id", "VID"
    )
    created = require_column(frame, where, "create date", "Create Date", "createdate")
    mapping, mapping_label = _sidecar(path, funnel)
    check_with = mapping or Funnel.default()

    stage_columns: list[tuple[str, str]] = []  # (column, lifecycle stage label)
    for column in frame.columns:
        match = _BECAME.match(column) or _LCS_INTERNAL.match(column)
        label = match.group(1) if match else None
        if label is None:
            entered = _ENTERED.match(column)
            if entered and normalize_stage_key(entered.group(2)) == "lifecyclestagepipeline":
                label = entered.group(1)
        if label is None or normalize_stage_key(label) in _OUTSIDE_FUNNEL:
            continue
        stage_columns.append((column, label.strip()))
    if not stage_columns:
        raise_no_stage_columns(where, "Became a Lead Date", frame.columns)
    canonical = check_stage_names(
        [label for _, label in stage_columns],
        check_with,
        where=where,
        mapping=mapping_label or "(the built-in HubSpot lifecycle mapping)",
        columns=[c for c, _ in stage_columns],
    )
    rows = np.arange(1, len(frame) + 1)
    events = EventBuilder()
    order = list(check_with.names)
    by_stage: dict[str, list[str]] = {}
    for column, label in stage_columns:
        by_stage.setdefault(canonical[label], []).append(column)
    for stage in sorted(by_stage, key=order.index):
        columns = by_stage[stage]
        # Several lifecycle stages onto one funnel stage: the earliest lifecycle stage's date.
        value = text(frame[columns[0]])
        for other in columns[1:]:
            value = value.where(value.notna(), text(frame[other]))
        events.add(frame[lead_id], stage, value, rows, where)

    consumed = {lead_id, created, *(c for c, _ in stage_columns)}
    source = find_column(
        frame.columns, "Original Source", "Original Source Type", "hs_analytics_source"
    )
    account = find_column(
        frame.columns,
        "Associated Company ID",
        "Associated Company Primary ID",
        "Company ID",
        "associatedcompanyid",
    )
    leads = pd.DataFrame({"lead_id": frame[lead_id], "created_at": frame[created]})
    if source:
        leads["source"] = text(frame[source])
        consumed.add(source)
    if account:
        leads["account_id"] = frame[account]
        consumed.add(account)
    _attributes(leads, frame, consumed)
    tables = {"leads": RawTable(leads, where), "stage_events": events.table(where)}
    return tables, f"hubspot-contacts:{path}", mapping


def raise_no_stage_columns(where: str, example: str, columns) -> None:
    from funnel_models._errors import FunnelDataError

    shown = ", ".join(repr(str(c)) for c in list(columns)[:8])
    raise FunnelDataError(
        f"{where}: no stage date columns (such as {example!r}); export the lifecycle / "
        f"stage date properties too (columns found: {shown})"
    )


def _attributes(leads: pd.DataFrame, frame: pd.DataFrame, consumed: set[str]) -> None:
    """Every column not used above, as a snake_case attribute (never overwriting)."""
    for column in frame.columns:
        if column in consumed:
            continue
        name = snake(column)
        while name in leads.columns:
            name += "_"
        leads[name] = frame[column]


# ---------------------------------------------------------------------- deals
def read_deals(path: str | Path, *, funnel=None):
    """Read a HubSpot deals export (see the module docstring)."""
    path = Path(path)
    frame = read_export(path)
    where = str(path)
    deal_id = require_column(frame, where, "deal id", "Record ID", "Deal ID", "hs_object_id")
    created = require_column(frame, where, "create date", "Create Date", "createdate")
    owner = find_column(frame.columns, "Deal owner", "Deal Owner", "hubspot_owner_id")
    n = len(frame)
    rows = np.arange(1, n + 1)

    entered_columns: list[tuple[str, str]] = []
    cumulative_columns: list[tuple[str, str]] = []
    for column in frame.columns:
        m = _ENTERED.match(column) or _ENTERED_NO_PIPELINE.match(column)
        if m:
            entered_columns.append((column, m.group(1).strip()))
            continue
        m = _CUMULATIVE.match(column)
        if m:
            cumulative_columns.append((column, m.group(1).strip()))
    if not entered_columns:
        raise_no_stage_columns(
            where, 'Date entered "Appointment Scheduled (Sales Pipeline)"', frame.columns
        )

    mapping, mapping_label = _sidecar(path, funnel)
    labels = [label for _, label in entered_columns]
    if mapping is None:
        built = _funnel_from_stages(frame, entered_columns, created)
        stage_of = {label: label for label in labels}
        result_funnel = built
    else:
        stage_of = check_stage_names(
            labels,
            mapping,
            where=where,
            mapping=mapping_label,
            columns=[c for c, _ in entered_columns],
        )
        result_funnel = mapping
    owner_values = text(frame[owner]) if owner else None
    events = EventBuilder()
    won_name = result_funnel.outcome_stage("won")
    has_won = np.zeros(n, dtype=bool)
    # Stages folded onto one funnel stage (or repeated across pipelines) give one event:
    # the first filled column in pipeline order.
    groups: dict[str, list[str]] = {}
    for column, label in entered_columns:
        groups.setdefault(stage_of[label], []).append(column)
    for stage, columns in groups.items():
        value = text(frame[columns[0]])
        for other in columns[1:]:
            value = value.where(value.notna(), text(frame[other]))
        events.add(frame[deal_id], stage, value, rows, where, owner_id=owner_values)
        if result_funnel.canonical_stage(stage) == won_name:
            has_won |= value.notna().to_numpy(bool)
    closed_won = find_column(frame.columns, "Is Closed Won", "hs_is_closed_won")
    close_date = find_column(frame.columns, "Close Date", "closedate")
    if closed_won and close_date and won_name:
        flag = text(frame[closed_won]).fillna("").str.casefold().isin(["true", "yes", "1"])
        missing = flag.to_numpy(bool) & ~has_won
        events.add(
            frame[deal_id],
            won_name,
            text(frame[close_date]),
            rows,
            where,
            mask=missing,
            owner_id=owner_values,
        )

    leads = pd.DataFrame({"lead_id": frame[deal_id], "created_at": frame[created]})
    consumed = {
        deal_id,
        created,
        *(c for c, _ in entered_columns),
        *(c for c, _ in cumulative_columns),
    }
    account = find_column(
        frame.columns,
        "Associated Company IDs",
        "Associated Company ID",
        "Associated Company IDs (Primary)",
    )
    if account:
        leads["account_id"] = text(frame[account]).str.split(";").str[0]
        consumed.add(account)
    source = find_column(frame.columns, "Original Source Type", "Original Source", "Deal source")
    if source:
        leads["source"] = text(frame[source])
        consumed.add(source)
    problems = Problems(n)
    for column, label in cumulative_columns:
        hours, bad = parse_durations(frame[column])
        name = "hours_in_" + snake(label)
        leads[name] = hours
        if bad.any():
            values = frame[column].astype(object).to_numpy()
            problems.add(
                bad.to_numpy(bool),
                name,
                "bad duration",
                np.array(
                    [
                        f"malformed duration {v!r} in column {column!r}; expected HH:mm:ss "
                        "such as 2705:47:48"
                        for v in values
                    ],
                    dtype=object,
                ),
            )
    _attributes(leads, frame, consumed)
    tables = {
        "leads": RawTable(leads, where, problems=problems.frame()),
        "stage_events": events.table(where),
    }
    return tables, f"hubspot-deals:{path}", result_funnel


def _funnel_from_stages(frame: pd.DataFrame, entered_columns, created: str) -> Funnel:
    """A funnel from the pipeline's own stages, ordered by median time after creation."""
    start, _ = parse_timestamps(frame[created])
    order = {}
    for position, (column, label) in enumerate(entered_columns):
        when, _ = parse_timestamps(frame[column])
        lag = (when - start).dt.total_seconds().median()
        key_ = normalize_stage_key(label)
        current = order.get(key_)
        value = (np.inf if pd.isna(lag) else lag, position, label)
        if current is None or value < current:
            order[key_] = value
    stages, outcomes = [], []
    for _, _, label in sorted(order.values()):
        k = normalize_stage_key(label)
        if "won" in k:
            outcomes.append({"name": label, "kind": "won", "owner": "sales"})
        elif "lost" in k:
            outcomes.append({"name": label, "kind": "lost", "owner": "sales"})
        else:
            stages.append({"name": label, "owner": "sales"})
    kinds = {o["kind"] for o in outcomes}
    if "won" not in kinds:
        outcomes.append({"name": "Won", "kind": "won", "owner": "sales"})
    if "lost" not in kinds:
        outcomes.append({"name": "Lost", "kind": "lost", "owner": "sales"})
    outcomes += [
        {"name": "Disqualified", "kind": "disqualified", "owner": "either"},
        {"name": "Recycled", "kind": "recycled", "owner": "marketing"},
    ]
    if not stages:
        stages = [{"name": "Opportunity", "owner": "sales"}]
    return Funnel.from_dict({"stages": stages, "outcomes": outcomes})
