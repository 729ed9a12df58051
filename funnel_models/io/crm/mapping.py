"""A YAML mapping for any other CSV or Excel export: column → canonical field, value → stage.

``funnel-models validate crm_mapping.yaml`` (format ``mapping``, told from the
``.yaml`` suffix) reads the export the mapping names::

    file: leads_export.xlsx      # CSV or Excel, relative to this YAML
    sheet: Leads                 # Excel only (default: the first sheet)
    leads:                       # canonical field: export column
      lead_id: Lead Number
      created_at: Created On
      source: Channel            # optional: source, account_id
      account_id: Company
    stages:                      # wide form: a date column per stage
      MQL: MQL Date
      SAL: Accepted On
      Won: Won On
    events:                      # and/or long form: one row per stage change
      file: status_history.csv   # default: the same file as the leads
      lead_id: Lead Number
      stage: Status
      entered_at: Changed On
      owner_id: Changed By       # optional: owner_id, team, reason
    values:                      # CRM value -> stage (long form; case and spaces ignored)
      Hot: MQL
      Accepted by sales: SAL
    funnel: funnel.yaml          # optional funnel definition, relative to this YAML

Every other column of the leads file stays as a snake_case attribute. Stage
names under ``stages:`` must be stages of the funnel (one-line error otherwise);
a value in the long form that maps to no stage is rejected row by row as an
unknown stage, naming the value.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from funnel_models._errors import FunnelConfigError
from funnel_models.core.dataset import RawTable
from funnel_models.core.funnel import Funnel, normalize_stage_key
from funnel_models.io.crm._export import (
    EXCEL_SUFFIXES,
    EventBuilder,
    check_stage_names,
    read_export,
    text,
)
from funnel_models.io.crm.hubspot import _attributes

_TOP = {"file", "sheet", "leads", "stages", "events", "values", "funnel"}
_LEADS = {"lead_id", "created_at", "source", "account_id"}
_EVENTS = {"file", "sheet", "lead_id", "stage", "entered_at", "owner_id", "team", "reason"}


def read_mapping(path: str | Path, *, funnel=None):
    """Read the export named by a mapping YAML (see the module docstring)."""
    path = Path(path)
    spec = _load_spec(path)
    base = path.parent
    if funnel is None and spec.get("funnel"):
        funnel = Funnel.from_yaml(base / str(spec["funnel"]))
    mapping_funnel = funnel or Funnel.default()

    leads_file = base / str(_need(spec, "file", path))
    frame = _read(leads_file, spec.get("sheet"))
    where = str(leads_file)
    fields = spec.get("leads") or {}
    _check_keys(fields, _LEADS, path, "leads")
    for required in ("lead_id", "created_at"):
        if required not in fields:
            raise FunnelConfigError(f"{path}: 'leads' must name the {required!r} column")
    columns = {
        name: _column(frame, col, path, f"leads.{name}", where) for name, col in fields.items()
    }
    leads = pd.DataFrame({name: frame[col] for name, col in columns.items()})
    rows = np.arange(1, len(frame) + 1)
    events = EventBuilder()

    wide = spec.get("stages") or {}
    if not isinstance(wide, dict):
        raise FunnelConfigError(f"{path}: 'stages' must map a stage to its date column")
    stage_cols = {
        str(stage): _column(frame, col, path, f"stages.{stage}", where)
        for stage, col in wide.items()
    }
    if stage_cols:
        check_stage_names(
            list(stage_cols),
            mapping_funnel,
            where=str(path),
            mapping=str(path),
            columns=list(stage_cols.values()),
        )
        for stage, col in stage_cols.items():
            events.add(frame[columns["lead_id"]], stage, text(frame[col]), rows, where)

    long = spec.get("events")
    if long:
        _check_keys(long, _EVENTS, path, "events")
        efile = base / str(long["file"]) if long.get("file") else leads_file
        eframe = frame if efile == leads_file else _read(efile, long.get("sheet"))
        ewhere = str(efile)
        for required in ("lead_id", "stage", "entered_at"):
            if required not in long:
                raise FunnelConfigError(f"{path}: 'events' must name the {required!r} column")
        ecols = {
            k: _column(eframe, v, path, f"events.{k}", ewhere)
            for k, v in long.items()
            if k not in ("file", "sheet")
        }
        values = {normalize_stage_key(k): str(v) for k, v in (spec.get("values") or {}).items()}
        for target in set(values.values()):
            if mapping_funnel.canonical_stage(target) is None:
                raise FunnelConfigError(
                    f"{path}: values maps to {target!r}, which is not a stage of the funnel"
                )
        raw_stage = text(eframe[ecols["stage"]])
        stage = raw_stage.map(
            lambda v: values.get(normalize_stage_key(v), v) if v is not None else None
        )
        extra = {
            k: eframe[c] for k, c in ecols.items() if k not in ("lead_id", "stage", "entered_at")
        }
        events.add(
            eframe[ecols["lead_id"]],
            stage,
            eframe[ecols["entered_at"]],
            np.arange(1, len(eframe) + 1),
            ewhere,
            mask=np.ones(len(eframe), dtype=bool),
            **extra,
        )
    if not stage_cols and not long:
        raise FunnelConfigError(
            f"{path}: map the stages with 'stages:' (date columns) or 'events:'"
        )
    _attributes(leads, frame, set(columns.values()) | set(stage_cols.values()))
    tables = {"leads": RawTable(leads, where), "stage_events": events.table(str(path))}
    return tables, f"mapping:{path}", funnel


def _load_spec(path: Path) -> dict:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FunnelConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise FunnelConfigError(f"{path}{where}: not valid YAML") from None
    if not isinstance(spec, dict):
        raise FunnelConfigError(
            f"{path}: a mapping file must be a YAML mapping with 'file' and 'leads'"
        )
    if "stages" in spec and isinstance(spec["stages"], list):
        raise FunnelConfigError(
            f"{path}: this looks like a funnel.yaml, not a mapping; pass it with --funnel"
        )
    _check_keys(spec, _TOP, path, "the top level")
    return spec


def _check_keys(spec: dict, allowed: set[str], path: Path, where: str) -> None:
    for k in spec:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), sorted(allowed), n=1, cutoff=0.5)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f" (allowed: {', '.join(sorted(allowed))})"
            )
            raise FunnelConfigError(f"{path}: unknown key {k!r} in {where}{hint}")


def _need(spec: dict, key_: str, path: Path):
    if not spec.get(key_):
        raise FunnelConfigError(f"{path}: missing {key_!r} (the export file to read)")
    return spec[key_]


def _column(frame: pd.DataFrame, column, path: Path, what: str, where: str) -> str:
    column = str(column).strip()
    if column in frame.columns:
        return column
    close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise FunnelConfigError(
        f"{path}: {what} names column {column!r}, which {where} does not have{hint}"
    )


def _read(file: Path, sheet) -> pd.DataFrame:
    if sheet is not None and file.suffix.lower() in EXCEL_SUFFIXES:
        from funnel_models._errors import FunnelDataError

        try:
            frame = pd.read_excel(file, sheet_name=sheet, dtype=object)
        except Exception as exc:
            raise FunnelDataError(f"{file}: cannot read sheet {sheet!r} ({exc})") from None
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame.astype(object).where(frame.notna(), None)
    return read_export(file)
