"""The engine: same spells and transitions on DuckDB and Spark; transition counts
equal to a plain DuckDB SQL query over the same Parquet file."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

import funnel_models as fm
from funnel_models.analysis.visits import SPELL_COLUMNS


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    synthetic = pytest.importorskip("funnel_models.synthetic")
    tables, truth = synthetic.generate_tables(1_500, seed=5)
    ds = fm.FunnelDataset.from_frames(**tables)
    path = tmp_path_factory.mktemp("engine") / "data"
    ds.to_folder(path)
    return ds, path


def test_transition_counts_equal_plain_duckdb_sql(generated):
    ds, path = generated
    ours = fm.transitions(path / "stage_events.parquet", as_of="2026-06-30")
    # Independent query: the next event of each lead (ties by funnel rank) over the file.
    ranks = ", ".join(f"('{s}', {i})" for i, s in enumerate(ds.funnel.names))
    sql = f"""
    WITH r(stage, rk) AS (VALUES {ranks}),
    ev AS (
      SELECT e.lead_id, e.stage, e.entered_at, r.rk FROM read_parquet('{path / "stage_events.parquet"}') e
      JOIN r USING (stage) WHERE e.entered_at <= TIMESTAMPTZ '2026-06-30 00:00:00+00'),
    nx AS (
      SELECT stage, LEAD(stage) OVER w AS nxt,
             epoch(LEAD(entered_at) OVER w) - epoch(entered_at) AS secs
      FROM ev WINDOW w AS (PARTITION BY lead_id ORDER BY entered_at, rk))
    SELECT stage AS from_stage, nxt AS to_stage, count(*) AS n,
           quantile_cont(secs / 86400.0, 0.5) AS p50
    FROM nx WHERE nxt IS NOT NULL
      AND stage IN ('Lead', 'MQL', 'SAL', 'SQL', 'Opportunity', 'Recycled')
    GROUP BY 1, 2 ORDER BY 1, 2
    """
    ref = duckdb.sql(sql).df().set_index(["from_stage", "to_stage"])
    assert len(ref) > 10
    assert ours.index.tolist() == ref.index.tolist()
    np.testing.assert_array_equal(ours["count"].to_numpy(), ref["n"].to_numpy())
    np.testing.assert_allclose(ours["p50_days"].to_numpy(), ref["p50"].to_numpy(), rtol=1e-9)


def test_csv_folder_equals_parquet(generated, tmp_path):
    ds, _ = generated
    ds.to_folder(tmp_path, file_format="csv")
    a = fm.transitions(tmp_path, as_of="2026-06-30")
    b = fm.transitions(ds, as_of="2026-06-30")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_unknown_engine_is_a_config_error(generated):
    ds, _ = generated
    with pytest.raises(fm.FunnelConfigError, match="unknown engine 'polars'"):
        fm.spells(ds, engine="polars")


def _spark_available() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'funnel_models[spark]')"
    if shutil.which("java") is None:
        return "Java is not installed (PySpark needs Java 17)"
    return None


@pytest.mark.spark
@pytest.mark.slow  # starting a local Spark session takes ~30 s on 2 cores
@pytest.mark.skipif(_spark_available() is not None, reason=str(_spark_available()))
def test_spark_gives_the_same_spells_and_transitions(generated, tmp_path):
    ds, _ = generated
    as_of = "2026-06-30"
    duck = fm.spells(ds, as_of=as_of)
    spark = fm.spells(ds, as_of=as_of, engine="spark")
    pd.testing.assert_frame_equal(spark[SPELL_COLUMNS], duck[SPELL_COLUMNS], check_dtype=False)
    # Spark cannot read nanosecond Parquet timestamps (what pandas writes by default):
    # write the same events with microseconds for both engines.
    file = tmp_path / "stage_events.parquet"
    ds.stage_events.to_parquet(file, coerce_timestamps="us", allow_truncated_timestamps=True)
    t_duck = fm.transitions(file, as_of=as_of)
    t_spark = fm.transitions(file, as_of=as_of, engine="spark")
    pd.testing.assert_frame_equal(t_spark, t_duck, check_dtype=False, rtol=1e-9)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.skipif(_spark_available() is not None, reason=str(_spark_available()))
def test_spark_gives_the_same_stalls_and_act_now_list(generated, capsys):
    # find_stalls / stalled_leads and `funnel-models stalls --engine spark` count the
    # visits on Spark with the same Ibis expressions: the same findings and act-now list
    import json

    from funnel_models.cli import main

    ds, path = generated
    by = ["source", "industry", "region"]
    duck = fm.find_stalls(ds, by=by, min_leads=20)
    spark = fm.find_stalls(ds, by=by, min_leads=20, engine="spark")
    assert len(duck) >= 3
    cols = ["from_stage", "to_stage", "segment", "kind", "n", "n_open", "related"]
    assert spark[cols].values.tolist() == duck[cols].values.tolist()
    num = ["value", "ci_low", "ci_high", "median_days", "won_deals_per_year"]
    np.testing.assert_allclose(spark[num].to_numpy(float), duck[num].to_numpy(float))
    act_duck, act_spark = fm.stalled_leads(ds), fm.stalled_leads(ds, engine="spark")
    assert len(act_duck) > 0 and act_spark.index.tolist() == act_duck.index.tolist()
    np.testing.assert_allclose(act_spark["days_over"], act_duck["days_over"])
    # nothing stays cached or registered in the shared Spark session
    from funnel_models.core.engine import spark_session

    session = spark_session()
    left = [t.name for t in session.catalog.listTables() if t.name.startswith("fm_spells")]
    assert left == []
    # the command: a Parquet folder on Spark goes through fm.load, then the same counts
    outputs = []
    for engine in ("duckdb", "spark"):
        assert main(["stalls", str(path), "--json", "--engine", engine]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    for key in ("findings", "act_now", "as_of"):
        assert outputs[1][key] == outputs[0][key]
