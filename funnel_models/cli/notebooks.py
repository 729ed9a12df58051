"""``funnel-models notebooks DIR [--source SOURCE]``: the analyst and workshop notebooks for
JupyterLab, with their ``source`` parameter pointing at data that exists."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

_DESCRIPTION = """\
Copy the analyst notebooks (explore_funnel, explore_lead_scoring) and the workshop
notebook into DIR, ready for `jupyter lab DIR`. Each notebook's parameters cell is set to
read SOURCE (default: the bundled sample, generated on first use into your data folder).
Existing notebooks in DIR are kept unless --force is given. A database URL with a password
is not written into a notebook: set FUNNEL_MODELS_SOURCE where JupyterLab runs instead.
"""

# the parameters cell's line that names the data: `source = "../data/sample"`
_SOURCE_LINE = re.compile(r"^source\s*=.*$", re.M)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "notebooks",
        help="copy the analyst and workshop notebooks into a folder for JupyterLab",
        description=_DESCRIPTION,
    )
    p.add_argument("out", metavar="DIR", help="folder to write the notebooks into")
    p.add_argument(
        "--source", metavar="SOURCE", help="data set folder or database URL the notebooks read"
    )
    p.add_argument("--force", action="store_true", help="overwrite notebooks already in DIR")
    p.set_defaults(run=run)


def with_source(notebook: dict, source: str, name: str) -> dict:
    """``notebook`` (nbformat JSON) with its parameters cell reading ``source``."""
    from funnel_models._errors import FunnelConfigError

    cells = notebook.get("cells") or []
    params = cells[0] if cells else {}
    if "parameters" not in params.get("metadata", {}).get("tags", []):
        raise FunnelConfigError(f"{name}: the first cell is not tagged 'parameters'")
    text = "".join(params["source"]) if isinstance(params["source"], list) else params["source"]
    if not _SOURCE_LINE.search(text):
        raise FunnelConfigError(f"{name}: the parameters cell has no 'source = ...' line")
    text = _SOURCE_LINE.sub(lambda _: f"source = {json.dumps(source)}", text, count=1)
    params["source"] = text.splitlines(keepends=True)
    return notebook


def run(args) -> int:
    from funnel_models._errors import FunnelConfigError
    from funnel_models.app.voila import ANALYST_NOTEBOOKS, default_source, notebook_path
    from funnel_models.core.redaction import has_secret, redact

    out = Path(args.out)
    targets = [(notebook_path(name), out / name) for name in ANALYST_NOTEBOOKS]
    existing = [str(dst) for _, dst in targets if dst.exists()]
    if existing and not args.force:
        raise FunnelConfigError(
            f"{existing[0]} exists; pass --force to overwrite the notebooks in {out}"
        )
    if args.source is None:
        source = str(default_source())
    elif "://" in args.source:
        if has_secret(args.source):
            raise FunnelConfigError(
                f"{redact(args.source)}: a password would be written into the notebooks; "
                "omit --source and set FUNNEL_MODELS_SOURCE where JupyterLab runs"
            )
        source = args.source
    else:
        path = Path(args.source).resolve()
        if not path.exists():
            raise FileNotFoundError(2, "no such data set", str(path))
        source = str(path)

    out.mkdir(parents=True, exist_ok=True)
    for src, dst in targets:
        notebook = with_source(json.loads(src.read_text(encoding="utf-8")), source, src.name)
        tmp = dst.with_name(f".{dst.name}.tmp")
        tmp.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, dst)  # a failed write never leaves half a notebook
    names = ", ".join(dst.name for _, dst in targets)
    print(f"wrote {names} to {out}", file=sys.stderr)
    print(f"  they read {redact(source)}; open them with: jupyter lab {out}", file=sys.stderr)
    return 0
