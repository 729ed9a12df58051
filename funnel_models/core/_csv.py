"""CSV output that is safe to open in a spreadsheet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a quote.

    Cells starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return are
    formula injection vectors (OWASP "CSV Injection"); numbers are left alone.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype.kind in "biufcmM" or isinstance(values.dtype, pd.BooleanDtype):
            continue
        text = values.astype("string")
        risky = text.str.startswith(_FORMULA_START).fillna(False).astype(bool)
        if risky.any():
            out[column] = values.astype(object)
            out.loc[risky, column] = "'" + text[risky]
    return out


def write_safe_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    neutralize_formulas(frame).to_csv(path, index=False)
    return path
