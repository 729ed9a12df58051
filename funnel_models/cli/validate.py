"""``funnel-models validate SOURCE``: check a source and report every rejected row.

Exit codes: 0 all rows valid; 1 some rows rejected (written to --rejected);
2 unusable input.
"""

from __future__ import annotations

import json
import sys

from funnel_models.core._csv import write_safe_csv
from funnel_models.io import FORMATS

SHOWN = 10


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check a source; report every rejected row with its reason",
        description=(
            "Load SOURCE into the canonical tables and report each rejected row with "
            "file, row, column and reason. Exit 0: all rows valid; 1: some rows "
            "rejected; 2: unusable input."
        ),
    )
    add_source_arguments(p)
    p.add_argument(
        "--rejected",
        metavar="FILE",
        default="rejected.csv",
        help="where to write the rejected rows as CSV (default: %(default)s; only when rows were rejected)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON only")
    p.set_defaults(run=run)


def add_source_arguments(p) -> None:
    """The SOURCE options every data command shares."""
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="funnel store, dataset folder, Excel workbook, database URL or CRM export "
        "(see --format)",
    )
    p.add_argument(
        "--format", default="auto", choices=FORMATS, help="kind of SOURCE (default: auto)"
    )
    p.add_argument(
        "--funnel",
        metavar="YAML",
        help="funnel definition (default: SOURCE/funnel.yaml or built-in)",
    )
    p.add_argument("--timezone", default="UTC", help="zone of naive timestamps (default: UTC)")
    p.add_argument("--dayfirst", action="store_true", help="read 05/03/2024 as 5 March")


def load_from_args(args):
    from funnel_models.io import load

    return load(
        args.source,
        format=args.format,
        funnel=args.funnel,
        timezone=args.timezone,
        dayfirst=args.dayfirst,
    )


def run(args) -> int:
    from funnel_models._errors import FunnelConfigError

    dataset = load_from_args(args)
    summary = dataset.summary
    rejected = dataset.rejected
    written = None
    if dataset.is_input(args.rejected):
        raise FunnelConfigError(
            f"--rejected {args.rejected}: is one of the inputs; write the rejected rows elsewhere"
        )
    if len(rejected):
        written = write_safe_csv(rejected, args.rejected)
    if args.json:
        payload = {
            "source": dataset.source,
            "store": None if dataset.path is None else str(dataset.path),
            "tables": {t: {k: int(v) for k, v in row.items()} for t, row in summary.iterrows()},
            "rows_rejected": len(rejected),
            "reasons": dataset.rejection_reasons.to_dict(orient="records"),
            "rejected_file": str(written) if written else None,
        }
        print(json.dumps(payload, indent=2))
    else:
        out = sys.stdout
        store = f" (funnel store {dataset.path})" if dataset.path is not None else ""
        print(f"{dataset.source}{store}", file=out)
        print(summary.to_string(), file=out)
        if len(rejected):
            print(f"\n{len(rejected):,} rows rejected:", file=out)
            for rec in rejected.head(SHOWN).itertuples():
                print(f"  {rec.source} row {rec.row}, column {rec.column}: {rec.reason}", file=out)
            if len(rejected) > SHOWN:
                print(f"  ... and {len(rejected) - SHOWN:,} more", file=out)
            print("\nBy reason:", file=out)
            for rec in dataset.rejection_reasons.itertuples():
                print(f"  {rec.table:<14} {rec.rows:>8,}  {rec.rule}", file=out)
            print(f"\nAll rejected rows, with a reason column: {written}", file=out)
        else:
            print("\nAll rows valid.", file=out)
    return 1 if len(rejected) else 0
