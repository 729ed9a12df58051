"""The generic YAML mapping for any CSV or Excel export (values checked by hand)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import funnel_models as fm
from funnel_models import FunnelConfigError
from funnel_models.io import detect_format

MAP = Path(__file__).parent / "fixtures" / "mapping"


def _events(ds):
    e = ds.stage_events.sort_values(["lead_id", "entered_at"])
    return list(zip(e["lead_id"], e["stage"], e["entered_at"].dt.strftime("%m-%d"), strict=True))


def test_wide_mapping_by_hand():
    assert detect_format(MAP / "wide.yaml") == "mapping"
    ds = fm.load(MAP / "wide.yaml")
    # export.csv: lead 1 MQL 05-02, SAL 05-03; lead 2 MQL 05-04; no Won dates
    assert _events(ds) == [("1", "MQL", "05-02"), ("1", "SAL", "05-03"), ("2", "MQL", "05-04")]
    assert ds.rejected.empty
    assert ds.leads.set_index("lead_id").loc["2", "source"] == "web"
    assert ds.leads.set_index("lead_id").loc["1", "region"] == "north"  # unmapped column kept


def test_long_mapping_values_and_unknown_value_rejected():
    ds = fm.load(MAP / "long.yaml")
    s = ds.summary
    assert (s["accepted"] + s["rejected"] == s["read"]).all()
    # history.csv: Hot -> MQL, 'accepted by sales ' (case, trailing space) -> SAL, Frozen unknown
    assert _events(ds) == [("1", "MQL", "05-02"), ("1", "SAL", "05-03")]
    bad = ds.rejected.iloc[0]
    assert bad["source"].endswith("history.csv") and bad["row"] == 3
    assert "unknown stage 'Frozen'" in bad["reason"]


def test_mapping_from_an_excel_sheet(tmp_path):
    frame = pd.read_csv(MAP / "export.csv", dtype=str)
    with pd.ExcelWriter(tmp_path / "crm.xlsx") as writer:
        frame.head(0).to_excel(writer, sheet_name="Notes", index=False)
        frame.to_excel(writer, sheet_name="Leads", index=False)
    text = (
        (MAP / "wide.yaml").read_text().replace("file: export.csv", "file: crm.xlsx\nsheet: Leads")
    )
    (tmp_path / "m.yaml").write_text(text)
    ds = fm.load(tmp_path / "m.yaml")
    assert _events(ds) == [("1", "MQL", "05-02"), ("1", "SAL", "05-03"), ("2", "MQL", "05-04")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("Accepted On", "Acepted On"),
            "stages.SAL names column 'Acepted On'.*did you mean 'Accepted On'",
        ),
        (("SAL: ", "Sal Accepted: "), "stage 'Sal Accepted'.*not in the pipeline mapping"),
        (("leads:", "lead:"), "unknown key 'lead'.*did you mean 'leads'"),
    ],
)
def test_mapping_errors_are_one_line(tmp_path, change, message):
    text = (MAP / "wide.yaml").read_text().replace(*change)
    (tmp_path / "export.csv").write_text((MAP / "export.csv").read_text())
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(FunnelConfigError, match=message) as info:
        fm.load(tmp_path / "m.yaml")
    assert "\n" not in str(info.value)
