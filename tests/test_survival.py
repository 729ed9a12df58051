"""TimeToConvert: Aalen-Johansen by hand and against lifelines."""

import numpy as np
import pandas as pd
import pytest

import funnel_models as fm


def test_incidence_by_hand():
    # days 1 converted, 2 exited, 3 converted, 4 open (n = 4)
    # t=1: at risk 4, F = 1/4, S = 3/4;  t=2: exit, S = 3/4 * 2/3 = 1/2
    # t=3: at risk 2, F = 1/4 + 1/2 * 1/2 = 1/2, S = 1/4
    spells = pd.DataFrame(
        {"days": [1.0, 2.0, 3.0, 4.0], "event": ["converted", "exited", "converted", "open"]}
    )
    m = fm.TimeToConvert().fit(spells)
    assert m.cumulative_incidence(0.5) == 0.0
    assert m.cumulative_incidence(1.0) == pytest.approx(0.25)
    assert m.cumulative_incidence(3.0) == pytest.approx(0.5)
    # open after 1.5 days: (F(3.5) - F(1.5)) / S(1.5) = (1/2 - 1/4) / (3/4)
    assert m.probability(days_open=1.5, within_days=2.0) == pytest.approx(1 / 3)


def test_matches_lifelines_aalen_johansen():
    lifelines = pytest.importorskip("lifelines")
    rng = np.random.default_rng(0)
    n = 600
    t_conv, t_exit, t_cens = rng.exponential(40, n), rng.exponential(60, n), rng.uniform(0, 120, n)
    days = np.minimum.reduce([t_conv, t_exit, t_cens])
    event = np.where(days == t_conv, "converted", np.where(days == t_exit, "exited", "open"))
    m = fm.TimeToConvert().fit(pd.DataFrame({"days": days, "event": event}))
    code = pd.Series(event).map({"open": 0, "converted": 1, "exited": 2}).to_numpy()
    aj = lifelines.AalenJohansenFitter(calculate_variance=False).fit(
        days, code, event_of_interest=1
    )
    cif = aj.cumulative_density_
    for t in (5.0, 20.0, 50.0, 100.0):
        expected = float(cif[cif.index <= t].iloc[-1, 0])
        assert m.cumulative_incidence(t) == pytest.approx(expected, abs=1e-9)


def test_curves_non_increasing_and_open_leads(tmp_path):
    from funnel_models.synthetic import generate_tables

    tables, _ = generate_tables(3000, seed=2)
    ds = fm.FunnelDataset.from_frames(**tables)
    m = fm.TimeToConvert(by="industry").fit(ds)
    for curve in m.curves_.values():
        assert (np.diff(curve["survival"]) <= 1e-12).all()
        assert (np.diff(curve["incidence"]) >= -1e-12).all()
    open_ = m.predict_open(fm.conversion_spells(ds))
    assert len(open_) == m.n_open_
    assert open_.iloc[:, 1].between(0, 1).all()
    assert (open_["p_convert_ever"] >= open_.iloc[:, 1] - 1e-12).all()
