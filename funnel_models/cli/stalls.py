"""``funnel-models stalls SOURCE``: ranked findings of where leads stall, and who must act.

Prints the findings of :func:`funnel_models.find_stalls` (rank, hand-off,
segment, the figures behind each and a one-sentence summary) and the size of
the act-now list (:func:`funnel_models.stalled_leads`). ``--json`` prints one
JSON object only: ``{"source", "as_of", "findings": [...], "act_now": {...}}``.
"""

from __future__ import annotations

import json
import math
import sys

from funnel_models._errors import FunnelConfigError
from funnel_models.cli.validate import add_source_arguments, load_from_args

ACT_NOW_SHOWN = 20


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "stalls",
        help="ranked findings of where leads stall (slow hand-offs, leaks) and who owns them",
        description=(
            "Find the hand-offs where leads of a segment wait unusually long or leak "
            "unusually often, ranked by won deals a year at stake, plus the open leads "
            "stalled beyond their stage's SLA or 90th percentile."
        ),
    )
    add_source_arguments(p)
    p.add_argument(
        "--as-of",
        metavar="DATE",
        help="snapshot date (default: the latest timestamp in the data, printed)",
    )
    p.add_argument(
        "--by",
        metavar="COL",
        nargs="+",
        help="lead attributes to segment by (default: source, industry, region, sdr_team, ... present)",
    )
    p.add_argument(
        "--min-leads",
        type=int,
        default=30,
        metavar="N",
        help="minimum visits in a segment and in the rest (default: %(default)s)",
    )
    p.add_argument("--top", type=int, metavar="N", help="show only the first N findings")
    p.add_argument(
        "--engine",
        default="duckdb",
        choices=("duckdb", "spark"),
        help="where the visits are counted (default: %(default)s; spark needs PySpark and Java)",
    )
    p.add_argument("--json", action="store_true", help="print JSON only")
    p.set_defaults(run=run)


def run(args) -> int:
    from pathlib import Path

    from funnel_models.analysis.stalls import _act_now, _findings, _prepare
    from funnel_models.core._time import resolve_as_of
    from funnel_models.core.funnel import Funnel

    if args.min_leads < 1:
        raise FunnelConfigError(f"--min-leads must be at least 1, got {args.min_leads}")
    if args.top is not None and args.top < 1:
        raise FunnelConfigError(f"--top must be at least 1, got {args.top}")
    as_of = resolve_as_of(args.as_of)
    if args.format == "auto" and Path(args.source).is_dir():
        # a folder: canonical Parquet is read and checked inside DuckDB (no pandas
        # round-trip); anything else falls back to fm.load inside _prepare
        funnel = Funnel.from_yaml(args.funnel) if args.funnel else None
        inputs = _prepare(
            Path(args.source), as_of, by=args.by, funnel=funnel, timezone=args.timezone,
            dayfirst=args.dayfirst, engine=args.engine,
        )  # fmt: skip
    else:
        dataset = load_from_args(args)
        if dataset.stage_events.empty:
            raise FunnelConfigError(f"{dataset.source}: no stage events to analyse")
        inputs = _prepare(dataset, as_of, by=args.by, engine=args.engine)
    try:
        findings = _findings(inputs, min_leads=args.min_leads, top=args.top)
        act = _act_now(inputs, findings.attrs["thresholds"], limit=ACT_NOW_SHOWN)
    finally:
        inputs.close()
    as_of = inputs.as_of
    rows = inputs.rows
    rejected = 0 if rows is None else int(rows["rejected"].sum())

    if args.json:
        payload = {
            "source": inputs.source,
            "as_of": as_of.isoformat(),
            "segments_judged": findings.attrs["segments_judged"],
            "findings": [_record(rank, row) for rank, row in findings.iterrows()],
            "act_now": {
                "count": act.attrs["count"],
                "by_stage": act.attrs["by_stage"],
                "leads": [
                    {"lead_id": lead_id, **{k: _jsonable(v) for k, v in row.items()}}
                    for lead_id, row in act.iterrows()
                ],
            },
        }
        if rows is not None:
            payload["validation"] = {
                "rows": {t: {k: int(v) for k, v in r.items()} for t, r in rows.iterrows()},
                "rejected_by_rule": [
                    {k: _jsonable(v) for k, v in r.items()}
                    for _, r in inputs.rejection_reasons.iterrows()
                ],
            }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0

    out = sys.stdout
    print(f"{inputs.source} — as of {as_of:%Y-%m-%d %H:%M} UTC", file=out)
    if rejected:
        print(
            f"{rejected:,} input rows rejected and left out "
            f"(`funnel-models validate {inputs.source}` lists them)",
            file=out,
        )
    if findings.empty:
        print(
            f"\nNo stall stands out ({findings.attrs['segments_judged']} segment × hand-off "
            f"comparisons judged, minimum {args.min_leads} visits each).",
            file=out,
        )
    else:
        head = findings[findings["scope"] == "funnel"]
        seg = findings[findings["scope"] == "segment"]
        if len(head):
            print("\nWhole funnel:\n", file=out)
            for rank, row in head.iterrows():
                _print_row(rank, row, out)
        if len(seg):
            print(f"\n{len(seg)} segment findings, largest impact first:\n", file=out)
            for rank, row in seg.iterrows():
                _print_row(rank, row, out)
    print(
        f"\nAct now: {act.attrs['count']:,} open leads stalled beyond their stage's SLA or p90",
        file=out,
    )
    for stage, n in act.attrs["by_stage"].items():
        owner = act.loc[act["stage"] == stage, "owner"]
        who = f"  ({owner.iloc[0]})" if len(owner) else ""
        print(f"  {stage:<12} {n:>7,}{who}", file=out)
    return 0


def _print_row(rank, row, out) -> None:
    seg = ", ".join(f"{k}={v}" for k, v in row["segment"].items()) or "whole funnel"
    if row["kind"] == "slow" and row["segment"] and math.isfinite(row["median_ratio"]):
        figure = f"median {row['median_ratio']:.1f}× the rest"
    else:
        figure = (
            f"{row['value']:.0%} vs {row['rest_value']:.0%} "
            f"(CI {row['ci_low']:.0%}–{row['ci_high']:.0%})"
        )
    print(
        f"{rank:>3}. {row['from_stage']}→{row['to_stage']}  [{seg}]  {row['kind']}, {figure}, "
        f"n={row['n']:,}, ~{row['won_deals_per_year']:.1f} (at least {row['won_deals_low']:.1f}) "
        f"won deals/yr, owner {row['owner']}",
        file=out,
    )
    print(f"     {row['summary']}", file=out)


def _record(rank, row) -> dict:
    rec = {"rank": int(rank)}
    rec.update({k: _jsonable(v) for k, v in row.items()})
    return rec


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if hasattr(v, "isoformat"):
        return None if v != v else v.isoformat()
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, str | int | float | bool):
        return v
    try:
        import pandas as pd

        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)
