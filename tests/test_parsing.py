"""Timestamp, id, number and boolean parsing of CRM values."""

import pandas as pd
import pytest

from funnel_models.core._parsing import parse_booleans, parse_ids, parse_numbers, parse_timestamps

UTC = "UTC"


@pytest.mark.parametrize(
    ("text", "timezone", "dayfirst", "expected_utc"),
    [
        ("2024-03-05T14:22:01Z", UTC, False, "2024-03-05 14:22:01"),
        ("2024-03-05T14:22:01+01:00", UTC, False, "2024-03-05 13:22:01"),
        ("2024-03-05 14:22:01-0500", UTC, False, "2024-03-05 19:22:01"),
        ("2024-03-05 14:22:01 UTC", "Europe/Rome", False, "2024-03-05 14:22:01"),
        # naive values are read in the given zone: Rome is UTC+1 in March
        ("2024-03-05 14:22:01", "Europe/Rome", False, "2024-03-05 13:22:01"),
        ("2024-03-05", "Europe/Rome", False, "2024-03-04 23:00:00"),
        # Rome is UTC+2 in July (summer time)
        ("2024-07-05 14:22", "Europe/Rome", False, "2024-07-05 12:22:00"),
        # US month-first (Salesforce en_US), 12-hour clock
        ("03/05/2024 2:22 PM", UTC, False, "2024-03-05 14:22:00"),
        # the same text day-first
        ("03/05/2024 14:22", UTC, True, "2024-05-03 14:22:00"),
        # dotted dates are always day-first (German / Italian exports)
        ("05.03.2024 14:22", UTC, False, "2024-03-05 14:22:00"),
        # HubSpot exports epoch milliseconds
        ("1709648521000", UTC, False, "2024-03-05 14:22:01"),
        ("2024/03/05 14:22:01", UTC, False, "2024-03-05 14:22:01"),
        ("Mar 5, 2024", UTC, False, "2024-03-05 00:00:00"),
        # zone words and offsets after other white space, any case (Arrow's RE2 runs these)
        ("2024-03-05 14:22:01\tgmt", "Europe/Rome", False, "2024-03-05 14:22:01"),
        ("2024-03-05 14:22\u00a0UTC", "Europe/Rome", False, "2024-03-05 14:22:00"),
    ],
)
def test_timestamp_formats(text, timezone, dayfirst, expected_utc):
    parsed, bad = parse_timestamps(pd.Series([text]), timezone=timezone, dayfirst=dayfirst)
    assert not bad.iloc[0]
    assert parsed.iloc[0] == pd.Timestamp(expected_utc, tz="UTC")
    assert str(parsed.dtype) == "datetime64[ns, UTC]"


def test_blank_is_missing_not_bad_and_garbage_is_bad():
    parsed, bad = parse_timestamps(pd.Series(["", None, "  ", "soon", "1900-01-01", "31/02/2024"]))
    assert parsed.isna().all()
    assert bad.tolist() == [False, False, False, True, True, True]


def test_typed_input_is_converted_not_reparsed():
    aware = pd.Series(pd.to_datetime(["2024-01-01 12:00"]).tz_localize("Europe/Rome"))
    parsed, _ = parse_timestamps(aware)
    assert parsed.iloc[0] == pd.Timestamp("2024-01-01 11:00", tz="UTC")
    naive = pd.Series(pd.to_datetime(["2024-01-01 12:00"]))
    parsed, _ = parse_timestamps(naive, timezone="Europe/Rome")
    assert parsed.iloc[0] == pd.Timestamp("2024-01-01 11:00", tz="UTC")


def test_ambiguous_autumn_hour_is_read_as_standard_time():
    # 2024-10-27 02:30 happens twice in Rome; we take the second (CET, UTC+1).
    parsed, bad = parse_timestamps(pd.Series(["2024-10-27 02:30"]), timezone="Europe/Rome")
    assert not bad.iloc[0]
    assert parsed.iloc[0] == pd.Timestamp("2024-10-27 01:30", tz="UTC")


def test_ids_strip_and_drop_excel_float_suffix():
    ids, blank = parse_ids(pd.Series([1.0, 2.5, None]))
    assert ids.tolist()[:2] == ["1", "2.5"]
    assert blank.tolist() == [False, False, True]
    ids, _ = parse_ids(pd.Series([" L1 ", "L2"]))
    assert ids.tolist() == ["L1", "L2"]


def test_numbers_with_currency_and_separators():
    numbers, bad = parse_numbers(pd.Series(["€ 12.500,00", "1,234.5", "12", "n/a", ""]))
    assert numbers.tolist()[:3] == [12500.0, 1234.5, 12.0]
    assert bad.tolist() == [False, False, False, True, False]


def test_numbers_with_unicode_spaces_and_currency_words():
    # French and Swiss exports group thousands with (narrow) no-break spaces
    values = ["12\u202f500,00 €", "1\u00a0234.5", "EUR 7", "usd 3,5", "gbp\t1.000,25", "5 %"]
    numbers, bad = parse_numbers(pd.Series(values))
    assert numbers.tolist() == [12500.0, 1234.5, 7.0, 3.5, 1000.25, 5.0]
    assert not bad.any()


def test_booleans():
    values, bad = parse_booleans(pd.Series(["True", "no", "1", "maybe", ""]))
    assert values.tolist()[:3] == [True, False, True]
    assert bad.tolist() == [False, False, False, True, False]


def test_a_column_of_non_ascii_text_parses_like_an_ascii_one():
    # a non-ASCII value in the column sends pandas' \\d and \\b back to Python's re:
    # the other values must not change
    values = pd.Series(["2024-03-05 14:22:01 UTC", "2024-03-05 14:22:01+01:00", "früh"])
    parsed, bad = parse_timestamps(values, timezone="Europe/Rome")
    assert bad.tolist() == [False, False, True]
    assert parsed.iloc[:2].tolist() == [
        pd.Timestamp("2024-03-05 14:22:01", tz="UTC"),
        pd.Timestamp("2024-03-05 13:22:01", tz="UTC"),
    ]
