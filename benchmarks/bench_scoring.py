"""Benchmark: LeadScorer fit and scoring on a flat synthetic table of N leads.

    .venv/bin/python benchmarks/bench_scoring.py --leads 1000000

Prints fit and score wall time, peak RSS, the machine load, and a same-run
reference: a bare HistGradientBoostingClassifier fit on the same sample size.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import warnings

import numpy as np
import pandas as pd


def flat_table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    src = np.array(
        [
            "trade_fair",
            "webinar",
            "web_form",
            "distributor_referral",
            "paid_search",
            "linkedin",
            "outbound",
        ]
    )
    t = pd.DataFrame(
        {
            "lead_id": np.char.add("L", np.arange(n).astype(str)),
            "created_at": pd.Timestamp("2023-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
            "source": src[rng.integers(0, 7, n)],
            "industry": rng.choice(
                ["automotive", "medical", "telecom", "energy", "aero", "consumer"], n
            ),
            "region": rng.choice(
                ["Italy", "DACH", "France", "Iberia", "Nordics", "UK", "CEE", "Benelux"], n
            ),
            "company_size": rng.choice(
                ["SMB", "Mid-market", "Enterprise"], n, p=[0.55, 0.32, 0.13]
            ),
            "target_account": rng.random(n) < 0.1,
            "employees": rng.lognormal(4, 1.2, n).round(),
            "touches_before": rng.poisson(3, n),
            "days_since_created": rng.exponential(10, n),
        }
    )
    logit = (
        -1.2
        + 0.8 * (t["source"] == "trade_fair")
        - 0.9 * (t["source"] == "paid_search")
        + 0.6 * t["target_account"]
        + 0.15 * np.log1p(t["touches_before"])
    )
    t["converted"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    t.loc[rng.random(n) < 0.05, "converted"] = None  # open leads
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=1_000_000)
    args = ap.parse_args()
    from funnel_models.models.scoring import LeadScorer

    t = flat_table(args.leads)
    print(f"leads {len(t):,}; load average before: {os.getloadavg()}; cores {os.cpu_count()}")
    scorer = LeadScorer(
        target="converted", id_column="lead_id", time_column="created_at", random_state=0
    )
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scorer.fit(t)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"fit   {fit_s:7.1f} s  (CPU {fit_cpu:.1f} s)  {scorer!r}")
    t0, c0 = time.perf_counter(), time.process_time()
    ranked = scorer.rank_open_leads(t, open_only=False)
    score_s, score_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"score {score_s:7.1f} s  (CPU {score_cpu:.1f} s)  ({len(ranked):,} leads, with reasons)")
    # reference in the same run: a bare HGB fit on the sample size the scorer trains on
    from sklearn.ensemble import HistGradientBoostingClassifier

    sample = t.dropna(subset=["converted"]).sample(
        min(scorer.max_train_rows, len(t)), random_state=0
    )
    X = sample[["employees", "touches_before", "days_since_created"]].assign(
        **{
            c: sample[c].astype("category")
            for c in ["source", "industry", "region", "company_size"]
        }
    )
    t0, c0 = time.perf_counter(), time.process_time()
    HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0).fit(
        X, sample["converted"]
    )
    ref_s, ref_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"reference: bare HGB fit on {len(sample):,} rows {ref_s:.1f} s (CPU {ref_cpu:.1f} s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB; load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
