"""The funnel definition: defaults, funnel.yaml validation, alias lookup."""

import pytest
import yaml

import funnel_models as fm
from funnel_models import Funnel, FunnelConfigError


def test_default_waterfall_matches_the_guide():
    funnel = Funnel.default()
    assert funnel.progression == ("Lead", "MQL", "SAL", "SQL", "Opportunity")
    assert funnel.outcomes == ("Won", "Lost", "Disqualified", "Recycled")
    assert [funnel.owner(s) for s in funnel.progression] == [
        "marketing",
        "marketing",
        "sales",
        "sales",
        "sales",
    ]
    assert funnel.outcome_stage("won") == "Won"
    assert funnel.sla_hours[("MQL", "SAL")] == 24


@pytest.mark.parametrize(
    ("crm_value", "stage"),
    [
        ("Marketing Qualified Lead", "MQL"),
        ("marketingqualifiedlead", "MQL"),  # HubSpot's internal value
        ("  sales-qualified lead ", "SQL"),
        ("Closed Won", "Won"),
        ("opportunity", "Opportunity"),
        ("Nurture", "Recycled"),
        ("Qualifed", None),
    ],
)
def test_canonical_stage_ignores_case_space_and_punctuation(crm_value, stage):
    assert Funnel.default().canonical_stage(crm_value) == stage


def test_suggest_names_the_closest_alias_and_its_stage():
    assert Funnel.default().suggest("Qualifed") == "Qualified (→ SQL)"
    assert Funnel.default().suggest("zzzz") is None


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "funnel.yaml"
    path.write_text(yaml.safe_dump(Funnel.default().to_dict(), sort_keys=False))
    assert Funnel.from_yaml(path) == Funnel.default()


def _write(tmp_path, spec):
    path = tmp_path / "funnel.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False) if not isinstance(spec, str) else spec)
    return path


BASE = {
    "stages": [
        {"name": "Lead", "owner": "marketing"},
        {"name": "MQL", "owner": "marketing"},
        {"name": "SAL", "owner": "sales"},
    ],
    "outcomes": [{"name": "Won", "kind": "won", "owner": "sales"}],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stagez": []}, "unknown key 'stagez' at top level; did you mean 'stages'?"),
        (
            {"stages": [*BASE["stages"], {"name": "mql", "owner": "sales"}]},
            "duplicate stage 'mql'",
        ),
        (
            {"aliases": {"Closed Won": "Wonn"}},
            "points to 'Wonn', which is not a stage; did you mean 'Won'?",
        ),
        ({"sla_hours": {"MQL->SAX": 24}}, "names 'SAX', which is not a stage"),
        ({"sla_hours": {"MQL to SAL": 24}}, "must look like 'MQL->SAL'"),
        ({"sla_hours": {"MQL->SAL": -1}}, "must be positive"),
        ({"stages": [{"name": "Lead", "owner": "finance"}]}, "owner must be one of"),
        ({"outcomes": [{"name": "Lost", "kind": "lost"}]}, "one stage of kind 'won'"),
        (
            {"stages": [{"name": "Lead", "owner": "marketing", "colour": "red"}]},
            "unknown key 'colour' at stages[0]",
        ),
    ],
)
def test_invalid_funnel_yaml_gets_a_clear_error(tmp_path, change, message):
    path = _write(tmp_path, {**BASE, **change})
    with pytest.raises(FunnelConfigError, match=None) as info:
        Funnel.from_yaml(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_alias_clash_between_stages_is_an_error():
    spec = {
        **BASE,
        "stages": [{"name": "Lead", "owner": "marketing", "aliases": ["MQL"]}, *BASE["stages"][1:]],
    }
    with pytest.raises(FunnelConfigError, match="'MQL' is used by both 'Lead' and 'MQL'"):
        Funnel.from_dict(spec)


def test_not_yaml_names_the_line(tmp_path):
    path = _write(tmp_path, "stages: [\n  - oops: : :\n")
    with pytest.raises(FunnelConfigError, match=r"line \d+: not valid YAML"):
        Funnel.from_yaml(path)


def test_dataset_folder_uses_its_funnel_yaml(tmp_path):
    (tmp_path / "leads.csv").write_text("lead_id,created_at\nL1,2024-01-01\n")
    (tmp_path / "stage_events.csv").write_text(
        "lead_id,stage,entered_at\nL1,lead,2024-01-01\nL1,Hot,2024-01-02\n"
    )
    spec = {**BASE, "aliases": {"Hot": "MQL"}}
    _write(tmp_path, spec)
    ds = fm.load(tmp_path)
    assert ds.funnel.progression == ("Lead", "MQL", "SAL")
    assert ds.stage_events["stage"].tolist() == ["Lead", "MQL"]
    assert ds.rejected.empty
