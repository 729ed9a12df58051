"""The ``funnel-models`` command line.

Each command lives in its own module of this package with two functions::

    def add_parser(subparsers) -> None      # registers the command and its options
    def run(args) -> int                    # does the work, returns the exit code

User errors (``FunnelDataError``, ``FunnelConfigError``, ``FileNotFoundError``,
``PermissionError``) become one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from funnel_models._errors import FunnelConfigError, FunnelDataError

# Command modules, in the order ``--help`` lists them. Add a new command here.
COMMANDS = (
    "generate",
    "ingest",
    "validate",
    "funnel",
    "stalls",
    "score",
    "dashboard",
    "report",
    "notebooks",
)

EXIT_OK, EXIT_REJECTED, EXIT_UNUSABLE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: one line, exit 2
        self.exit(EXIT_UNUSABLE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from funnel_models import __version__

    parser = _Parser(
        prog="funnel-models",
        description="Where do B2B leads stall between marketing and sales?",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMANDS:
        importlib.import_module(f"funnel_models.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (FunnelDataError, FunnelConfigError) as exc:
        print(f"funnel-models {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"funnel-models {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
