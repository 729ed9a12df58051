"""The absorbing Markov chain's algebra, shared by the chain model and the stall analysis.

:func:`solve_absorbing` turns a transition matrix ``P`` (transient rows; transient
columns first, then the absorbing ones) into the fundamental matrix and its
absorption quantities; :func:`average_deal_size` is the revenue per won deal
that impacts are priced with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelDataError

__all__ = ["average_deal_size", "solve_absorbing"]


def average_deal_size(dataset: Any) -> float:
    """Mean amount of won opportunities (all with an amount when none is won); NaN if none."""
    if dataset is None:
        return float("nan")
    opps = dataset.opportunities
    if "amount" not in opps.columns or opps.empty:
        return float("nan")
    amount = pd.to_numeric(opps["amount"], errors="coerce")
    if "won" in opps.columns:
        won = opps["won"].fillna(False).astype(bool).to_numpy()
        won_amount = amount[won].dropna()
        if len(won_amount):
            return float(won_amount.mean())
    amount = amount.dropna()
    return float(amount.mean()) if len(amount) else float("nan")


def solve_absorbing(
    P: np.ndarray, m: np.ndarray, pi0: np.ndarray, n_t: int, won_col: int | None
) -> dict:
    """Absorption quantities of the chain with transient block ``P[:, :n_t]``."""
    Q = P[:, :n_t]
    R = P[:, n_t:]
    eye = np.eye(n_t)
    try:
        N = np.linalg.inv(eye - Q)
    except np.linalg.LinAlgError:
        # a closed loop with no way out (e.g. only backward moves observed)
        raise FunnelDataError(
            "the observed transitions form a loop no lead ever leaves; the chain has no "
            "absorbing outcome from some stage"
        ) from None
    B = N @ R
    b = B[:, won_col - n_t] if won_col is not None else np.zeros(n_t)
    t = N @ m
    with np.errstate(invalid="ignore", divide="ignore"):
        t_win = np.where(b > 0, (N @ (m * b)) / np.where(b > 0, b, 1), np.nan)
        diag = np.diag(N)
        H = N / diag[None, :]
    reach = pi0 @ H
    # starting in j means reaching it
    reach = np.minimum(reach, 1.0)
    return {"N": N, "B": B, "b": b, "t": t, "t_win": t_win, "m": m, "reach": reach,
            "win_overall": float(pi0 @ b)}  # fmt: skip
