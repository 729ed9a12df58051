"""``funnel-models ingest SOURCE --store PATH``: validate a source into a funnel store file.

The store holds the accepted tables, the rejected rows with their reasons, the
funnel, the snapshot, the input files and the stage visits; it is written beside
PATH and renamed into place, and an existing PATH is replaced only if it is a
funnel store. Every command that takes a SOURCE takes the store. Exit 0 when the
store was written (rejected rows are kept in it: ``funnel-models validate PATH``
lists them); 2 on unusable input.
"""

from __future__ import annotations

import json
import sys

from funnel_models._errors import FunnelConfigError


def add_parser(subparsers) -> None:
    from funnel_models.cli.validate import add_source_arguments

    p = subparsers.add_parser(
        "ingest",
        help="validate a source and write it as a funnel store file",
        description=(
            "Read SOURCE, check every row and write one funnel store file at --store: "
            "accepted tables, rejected rows with their reasons, the funnel, the snapshot "
            "and the stage visits. The file is replaced atomically, and only if it is a "
            "funnel store. Every command that takes a SOURCE takes the store."
        ),
    )
    add_source_arguments(p)
    p.add_argument("--store", metavar="PATH", required=True, help="the store file to write")
    p.add_argument(
        "--as-of",
        metavar="DATE",
        help="the snapshot (default: the latest stage event in the data)",
    )
    p.add_argument(
        "--engine",
        default="duckdb",
        choices=("duckdb", "spark"),
        help="engine that validates the rows (default: duckdb)",
    )
    p.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="DuckDB's memory budget while ingesting, e.g. 2GB (default: 1500MB; "
        "it spills to disk beyond)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON only")
    p.set_defaults(run=run)


def run(args) -> int:
    from funnel_models.io import ingest

    if args.engine != "duckdb":
        raise FunnelConfigError(
            "ingest --engine spark is not available yet: stores are written by DuckDB "
            "(use --engine duckdb)"
        )
    dataset = ingest(
        args.source,
        args.store,
        format=args.format,
        funnel=args.funnel,
        timezone=args.timezone,
        dayfirst=args.dayfirst,
        as_of=args.as_of,
        memory_limit=args.memory_limit,
    )
    summary = dataset.summary
    rejected = int(summary["rejected"].sum())
    as_of = None if dataset.as_of is None else dataset.as_of.isoformat()
    if args.json:
        payload = {
            "store": str(dataset.path),
            "source": dataset.source,
            "as_of": as_of,
            "tables": {t: {k: int(v) for k, v in row.items()} for t, row in summary.iterrows()},
            "rows_rejected": rejected,
            "reasons": dataset.rejection_reasons.to_dict(orient="records"),
        }
        print(json.dumps(payload, indent=2))
        return 0
    out = sys.stdout
    print(f"{dataset.source} -> {dataset.path}", file=out)
    print(summary.to_string(), file=out)
    print(f"\nSnapshot (as of): {as_of or 'none (no stage events)'}", file=out)
    if rejected:
        print(f"\n{rejected:,} rows rejected, kept in the store with a reason:", file=out)
        for rec in dataset.rejection_reasons.itertuples():
            print(f"  {rec.table:<14} {rec.rows:>8,}  {rec.rule}", file=out)
        print(f"List them: funnel-models validate {dataset.path}", file=out)
    else:
        print("\nAll rows valid.", file=out)
    return 0
