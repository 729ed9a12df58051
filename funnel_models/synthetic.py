"""A realistic synthetic CRM with planted, documented effects.

The company: an Italy-based maker of electronic components (power modules,
sensors, connectors, passives, microcontroller boards) selling across Europe.
Marketing produces leads from trade fairs, webinars, web forms, paid search
and LinkedIn; distributors refer leads and SDRs prospect outbound. SDR teams
(routed by region) accept marketing-qualified leads (the hand-off), account
executives (AEs) run opportunities.

Every lead's whole trajectory is simulated first (uncensored), then
everything is cut at ``as_of``: events after it are dropped and opportunities
still open get ``closed_at`` NaT and ``won`` NA, so recent leads are genuinely
censored. Five effects are planted and written with their true sizes to
``ground_truth.json`` (see :data:`PLANTED` and :func:`generate`):

1. ``slow_handoff`` -- MQL→SAL is about 4× slower in the automotive industry.
2. ``sla_breach_team`` -- "SDR South" accepts far fewer MQLs within the 24 h SLA.
3. ``response_time_effect`` -- a fast first sales response raises P(SAL→SQL);
   response time is confounded by ``source``.
4. ``leaky_channel`` -- sales rejects paid-search MQLs ("not a fit") far more often.
5. ``abm_lift`` -- opportunities of target (ABM) accounts are won more often.

Zombie leads, so that a stale-lead policy has something to find: 3 % of the leads
with an MQL, SAL, SQL or Opportunity visit entered at least 180 days before
``as_of`` are abandoned at one such visit (``PLANTED["p_zombie"]``,
``"zombie_min_silent_days"``): nothing happens to them afterwards (no stage event,
no activity, no new opportunity; an open opportunity stays open), so at ``as_of``
they are open and silent for 180 to 730 days. In a real CRM these are the records
nobody closed. ``ground_truth.json["zombies"]`` lists them (``lead_ids``), how many
per stage (``by_stage``) and how long they have been silent
(``days_silent_at_as_of``). They come from their own random stream: every other
row is the same as without them, and the effects above are measured on the
trajectories before the zombies were cut (zombies are drawn independently of every
attribute, so the sizes hold). Old open MQL/SAL/SQL visits are almost all zombies.

Randomness comes only from :class:`numpy.random.Generator` objects spawned from
``np.random.SeedSequence(seed)``: one for the accounts and one per chunk of
leads, so the same ``seed`` (and ``chunk_size``) gives byte-identical files.

Examples
--------
>>> from funnel_models.synthetic import generate_tables
>>> tables, truth = generate_tables(500, seed=1)
>>> sorted(tables)
['accounts', 'activities', 'leads', 'opportunities', 'stage_events']
>>> len(tables["leads"])
500
>>> truth["effects"]["abm_lift"]["planted_won_probability_target"]
0.45
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from funnel_models._errors import FunnelConfigError

__all__ = ["PLANTED", "TABLES", "generate", "generate_tables"]

TABLES = ("leads", "stage_events", "activities", "opportunities", "accounts")

# ----------------------------------------------------------------------------- vocabulary
INDUSTRIES = (
    "automotive",
    "industrial automation",
    "medical devices",
    "energy & utilities",
    "telecom",
    "consumer electronics",
    "aerospace & defence",
)
INDUSTRY_P = np.array([0.18, 0.22, 0.12, 0.14, 0.10, 0.14, 0.10])

REGIONS = ("Italy", "DACH", "France", "Iberia", "Benelux", "Nordics", "UK & Ireland", "CEE")
REGION_P = np.array([0.30, 0.20, 0.12, 0.08, 0.07, 0.06, 0.09, 0.08])
LEGAL_FORM = ("S.r.l.", "GmbH", "SAS", "S.L.", "B.V.", "AB", "Ltd", "sp. z o.o.")

TEAMS = ("SDR South", "SDR DACH", "SDR West", "SDR North")
# region -> team: South = Italy, Iberia; DACH = DACH, CEE; West = France, Benelux;
# North = Nordics, UK & Ireland.  Industry is drawn independently of region.
REGION_TEAM = np.array([0, 1, 2, 0, 2, 3, 3, 1])
TEAM_SDRS = (4, 3, 2, 2)  # SDR01-04 South, SDR05-07 DACH, SDR08-09 West, SDR10-11 North
TEAM_AES = (2, 2, 2, 2)  # AE01-02 South, AE03-04 DACH, AE05-06 West, AE07-08 North

SIZES = ("SMB", "Mid-market", "Enterprise")
SIZE_P = np.array([0.55, 0.32, 0.13])
SIZE_LEAD_WEIGHT = np.array([1.0, 1.5, 2.5])  # bigger accounts raise more leads
TARGET_P_BY_SIZE = np.array([0.03, 0.10, 0.35])  # ABM list, ~10% of accounts

SOURCES = (
    "trade_fair",
    "webinar",
    "web_form",
    "distributor_referral",
    "paid_search",
    "linkedin",
    "outbound",
)
SOURCE_P = np.array([0.14, 0.12, 0.22, 0.10, 0.16, 0.12, 0.14])
S_TRADE, S_WEBINAR, S_WEB, S_DISTRIB, S_PAID, S_LINKEDIN, S_OUTBOUND = range(7)
SOURCE_ABBR = ("FAIR", "WBN", "WEB", "DIST", "PPC", "LNKD", "OUT")
QUARTER_FAIR = ("embedded world", "SPS Italia", "Smart Manufacturing Forum", "electronica")
CAMPAIGN_LABEL = (
    None,
    "Webinar series",
    "Website inbound",
    "Distributor programme",
    "Google Ads",
    "LinkedIn lead gen",
    "SDR outbound",
)

PRODUCT_LINES = ("power modules", "sensors", "connectors", "passives", "microcontroller boards")
PRODUCT_P = np.array([0.24, 0.24, 0.20, 0.16, 0.16])

STAGES = ("Lead", "MQL", "SAL", "SQL", "Opportunity", "Won", "Lost", "Disqualified", "Recycled")
LEAD, MQL, SAL, SQL, OPP, WON, LOST, DQ, REC = range(9)
TEAM_NAMES = ("marketing", "sales")
MARKETING, SALES = 0, 1

REASONS = (
    "no budget",
    "not a fit",
    "no response",
    "competitor",
    "timing",
    "junk contact data",
    "price",
    "no decision",
    "no sales follow-up",
)
R_BUDGET, R_FIT, R_NORESP, R_COMP, R_TIMING, R_JUNK, R_PRICE, R_NODEC, R_NOFOLLOW = range(9)

ACTIVITY_KINDS = (
    "email_open",
    "email_click",
    "form_fill",
    "webinar_attended",
    "booth_visit",
    "content_download",
    "call",
    "email",
    "meeting",
    "demo",
    "quote_sent",
)
(
    K_OPEN,
    K_CLICK,
    K_FORM,
    K_WEBINAR,
    K_BOOTH,
    K_DOWNLOAD,
    K_CALL,
    K_EMAIL,
    K_MEETING,
    K_DEMO,
    K_QUOTE,
) = range(11)
CHANNELS = (
    "email",
    "website",
    "webinar",
    "trade fair",
    "paid search",
    "linkedin",
    "phone",
    "video",
)
C_EMAIL, C_WEB, C_WEBINAR, C_FAIR, C_PAID, C_LINKEDIN, C_PHONE, C_VIDEO = range(8)
# the lead's first marketing touch, per source (-1: none)
SOURCE_TOUCH_KIND = np.array([K_BOOTH, K_WEBINAR, K_FORM, -1, K_FORM, K_FORM, -1])
SOURCE_TOUCH_CHANNEL = np.array([C_FAIR, C_WEBINAR, C_WEB, -1, C_PAID, C_LINKEDIN, -1])

_N_MKT = 3  # MKT01 events (fairs, webinars), MKT02 digital, MKT03 partner channel
SOURCE_MKT = np.array([0, 0, 1, 2, 1, 1, 0])
_SDR_FIRST = np.cumsum((0,) + TEAM_SDRS)[:-1]
_AE_FIRST = np.cumsum((0,) + TEAM_AES)[:-1]
OWNERS = (
    tuple(f"MKT{i + 1:02d}" for i in range(_N_MKT))
    + tuple(f"SDR{i + 1:02d}" for i in range(sum(TEAM_SDRS)))
    + tuple(f"AE{i + 1:02d}" for i in range(sum(TEAM_AES)))
)
_SDR_OFFSET = _N_MKT
_AE_OFFSET = _N_MKT + sum(TEAM_SDRS)

HOUR, DAY = 3600, 86400
_MAX_DURATION = 3 * 365 * DAY
_MAX_ROUNDS = 3  # a lead can be recycled and re-enter MQL at most twice

# ----------------------------------------------------------------------------- parameters
#: The planted effects and the behaviour around them (parameters of the simulation).
PLANTED: dict[str, Any] = {
    # Lead -> MQL (inbound sources; outbound and distributor referrals skip MQL)
    "p_mql_by_source": {
        "trade_fair": 0.45,
        "webinar": 0.50,
        "web_form": 0.45,
        "paid_search": 0.60,
        "linkedin": 0.42,
    },
    "p_direct_sal_by_source": {"distributor_referral": 0.50, "outbound": 0.40},
    "p_junk_at_lead": 0.12,
    # hand-off (MQL -> SAL): ln(hours) = ln(team median) + ln(industry factor) + ln(source factor) + N(0, sigma)
    "handoff_median_hours": 3.0,
    # SLA breach: part of SDR South's MQLs sit in a backlog for days
    "handoff_backlog_share_by_team": {"SDR South": 0.7},
    "handoff_backlog_median_hours": 50.0,
    "handoff_industry_factor": {"automotive": 3.5},
    "handoff_source_factor": {
        "trade_fair": 2.5,
        "webinar": 1.0,
        "web_form": 0.5,
        "paid_search": 0.7,
        "linkedin": 1.0,
    },
    "handoff_sigma": 0.9,
    "p_mql_ignored": 0.05,  # never touched by sales; recycled by marketing after ~40 days
    "p_accept": 0.72,  # P(MQL accepted by sales: SAL, or straight to SQL)
    "p_accept_by_source": {"paid_search": 0.35},
    "p_skip_sal": 0.06,  # accepted MQLs that go straight to SQL
    # SAL -> SQL: base (response <= 1 h) x size multiplier x response multiplier
    "p_sql_base_by_source": {
        "trade_fair": 0.80,
        "webinar": 0.72,
        "web_form": 0.62,
        "paid_search": 0.62,
        "linkedin": 0.68,
        "distributor_referral": 0.55,
        "outbound": 0.40,
    },
    "sql_size_multiplier": {"SMB": 0.85, "Mid-market": 1.0, "Enterprise": 1.1},
    "response_multiplier": {"<=1h": 1.0, "1-24h": 0.65, ">24h": 0.40},
    "p_opportunity": 0.50,
    "p_won": 0.28,
    "p_won_target_account": 0.45,
    "p_recycled_reenter": 0.30,
    "business_hours_local": [8.5, 18.0],
    "p_sales_action_in_business_hours": 0.9,
    "amount_median_eur_by_size": {"SMB": 8_000, "Mid-market": 30_000, "Enterprise": 120_000},
    "amount_sigma": 0.8,
    # zombies: leads abandoned at an old MQL/SAL/SQL/Opportunity visit, never touched again
    "p_zombie": 0.03,
    "zombie_min_silent_days": 180,
}

_BACKLOG_SHARE = np.array([PLANTED["handoff_backlog_share_by_team"].get(t, 0.0) for t in TEAMS])
_HANDOFF_IND_F = np.array([PLANTED["handoff_industry_factor"].get(i, 1.0) for i in INDUSTRIES])
_HANDOFF_SRC_F = np.array([PLANTED["handoff_source_factor"].get(s, 1.0) for s in SOURCES])
_P_MQL = np.array([PLANTED["p_mql_by_source"].get(s, 0.0) for s in SOURCES])
_P_DIRECT = np.array([PLANTED["p_direct_sal_by_source"].get(s, 0.0) for s in SOURCES])
_P_ACCEPT = np.array(
    [PLANTED["p_accept_by_source"].get(s, PLANTED["p_accept"]) for s in SOURCES]
) / (1 - PLANTED["p_mql_ignored"])
_P_ACCEPT_REST = PLANTED["p_accept"] / (1 - PLANTED["p_mql_ignored"])
_P_SQL_BASE = np.array([PLANTED["p_sql_base_by_source"][s] for s in SOURCES])
_SQL_SIZE = np.array([PLANTED["sql_size_multiplier"][s] for s in SIZES])
_RESP_MULT = np.array(list(PLANTED["response_multiplier"].values()))
_AMOUNT_MEDIAN = np.array([PLANTED["amount_median_eur_by_size"][s] for s in SIZES], float)
_CLOSE_MEDIAN_DAYS = np.array([35.0, 60.0, 100.0])


# ----------------------------------------------------------------------------- calendar
def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


class _Calendar:
    """Business days and the Europe/Rome UTC offset, one entry per local date."""

    def __init__(self, first: date, n_days: int):
        self.day0 = (first - date(1970, 1, 1)).days
        self.n = n_days
        days = pd.date_range(first, periods=n_days, freq="D")
        noon = (days + pd.Timedelta(hours=12)).tz_localize("UTC")
        local = noon.tz_convert("Europe/Rome").tz_localize(None)
        self.offset = ((local - noon.tz_localize(None)).total_seconds()).to_numpy().astype(np.int64)
        month, dom = days.month.to_numpy(), days.day.to_numpy()
        dow = days.day_of_week.to_numpy()
        holiday = np.zeros(n_days, bool)
        for m, d in [(1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8)]:
            holiday |= (month == m) & (dom == d)
        holiday |= (month == 12) & (dom >= 24)  # Christmas closure
        holiday |= (month == 8) & (dom >= 10) & (dom <= 21)  # "ferie" around Ferragosto
        years = sorted(set(days.year))
        easter_mon = pd.DatetimeIndex([_easter(y) + timedelta(days=1) for y in years])
        holiday |= days.isin(easter_mon)
        self.dow, self.month, self.dom, self.holiday = dow, month, dom, holiday
        self.bday = (dow < 5) & ~holiday
        # next business day on or after each day
        idx = np.where(self.bday, np.arange(n_days), n_days - 1)
        self.next_bday = np.minimum.accumulate(idx[::-1])[::-1]
        self.open_s = int(PLANTED["business_hours_local"][0] * HOUR)
        self.close_s = int(PLANTED["business_hours_local"][1] * HOUR)

    def day_index(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local day index and local second-of-day of UTC epoch seconds."""
        approx = np.clip((t + HOUR) // DAY - self.day0, 0, self.n - 1)
        local = t + self.offset[approx]
        day = np.clip(local // DAY - self.day0, 0, self.n - 1)
        return day, local - (day + self.day0) * DAY

    def to_utc(self, day: np.ndarray, second_of_day: np.ndarray) -> np.ndarray:
        return (day + self.day0) * DAY + second_of_day - self.offset[day]

    def push(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Move sales actions outside business hours to the next opening (most of the time)."""
        day, sod = self.day_index(t)
        in_hours = self.bday[day] & (sod >= self.open_s) & (sod < self.close_s)
        same_day = self.bday[day] & (sod < self.open_s)
        target = np.where(same_day, day, self.next_bday[np.minimum(day + 1, self.n - 1)])
        span = self.close_s - self.open_s - 600
        jitter = np.minimum(rng.exponential(1.5 * HOUR, t.size), span).astype(np.int64)
        moved = self.to_utc(target, self.open_s + jitter)
        move = ~in_hours & (rng.random(t.size) < PLANTED["p_sales_action_in_business_hours"])
        return np.where(move & (moved > t), moved, t)


# ----------------------------------------------------------------------------- helpers
def _lognormal(rng: np.random.Generator, median, sigma: float, size: int) -> np.ndarray:
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(size))


def _secs(rng, median_s, sigma, size) -> np.ndarray:
    return np.minimum(_lognormal(rng, median_s, sigma, size), _MAX_DURATION).astype(np.int64)


def _choice(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """Vectorised categorical draw (codes 0..len(p)-1)."""
    cdf = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(p) - 1)


def _id_strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Fixed-width ids ('L0000001') built straight into an Arrow string buffer."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n, p = numbers.size, len(prefix)
    row = p + width
    mat = np.empty((n, row), dtype=np.uint8)
    mat[:, :p] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    rest = numbers.copy()
    for k in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        mat[:, p + k] = 48 + digit
    offsets = (np.arange(n + 1, dtype=np.int64) * row).astype(np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(mat))


def _labels(vocabulary, codes: np.ndarray) -> pa.Array:
    """Strings from integer codes; negative codes become nulls."""
    codes = np.asarray(codes)
    dictionary = pa.array(list(vocabulary), pa.string())
    mask = codes < 0
    indices = pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask if mask.any() else None)
    return dictionary.take(indices)


def _timestamps(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    micros = pa.array(np.asarray(seconds, dtype=np.int64) * 1_000_000, pa.int64(), mask=mask)
    return micros.cast(pa.timestamp("us", tz="UTC"))


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(max(n, 1))))


class _Log:
    """Columns appended in pieces, concatenated once (narrow dtypes keep chunks small)."""

    _DTYPES = {"t": np.int64, "lead": np.int32}

    def __init__(self, *names: str):
        self.names = names
        self.parts: dict[str, list[np.ndarray]] = {n: [] for n in names}

    def add(self, size: int | None = None, **cols) -> None:
        size = size if size is not None else len(next(iter(cols.values())))
        for name in self.names:
            dtype = self._DTYPES.get(name, np.int16)
            value = cols[name]
            if np.ndim(value) == 0:
                self.parts[name].append(np.full(size, value, dtype=dtype))
            else:
                self.parts[name].append(np.asarray(value).astype(dtype, copy=False))

    def columns(self) -> dict[str, np.ndarray]:
        out = {}
        for name, parts in self.parts.items():
            dtype = self._DTYPES.get(name, np.int16)
            out[name] = np.concatenate(parts) if parts else np.empty(0, dtype)
            parts.clear()
        return out


# ----------------------------------------------------------------------------- accounts
_NAME_HEADS = (
    "Alpi",
    "Tecno",
    "Elettro",
    "Nord",
    "Sud",
    "Volta",
    "Ferro",
    "Lumen",
    "Quantum",
    "Vector",
    "Helio",
    "Rhein",
    "Baltic",
    "Iber",
    "Atlas",
    "Orion",
    "Delta",
    "Astra",
    "Cobalt",
    "Silva",
    "Meridian",
    "Polar",
    "Vita",
    "Aero",
    "Nova",
    "Kraft",
    "Terra",
    "Lago",
    "Monte",
    "Fjord",
)
_NAME_TAILS = (
    "tronic",
    "mec",
    " Systems",
    "tech",
    " Industries",
    " Dynamics",
    "matic",
    " Engineering",
    " Medical",
    " Energy",
    " Motion",
    " Controls",
    "com",
    " Devices",
    " Automation",
)


def _accounts(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    industry = _choice(rng, INDUSTRY_P, n)
    region = _choice(rng, REGION_P, n)
    size = _choice(rng, SIZE_P, n)
    target = rng.random(n) < TARGET_P_BY_SIZE[size]
    team = REGION_TEAM[region]
    ae = _AE_OFFSET + _AE_FIRST[team] + (rng.random(n) * np.asarray(TEAM_AES)[team]).astype(int)
    name = rng.integers(0, len(_NAME_HEADS) * len(_NAME_TAILS), n)
    return {
        "industry": industry,
        "region": region,
        "size": size,
        "target": target,
        "ae": ae,
        "name": name * len(LEGAL_FORM) + region,
    }


def _accounts_table(acc: dict[str, np.ndarray]) -> pa.Table:
    n = acc["industry"].size
    pool = [
        f"{h}{t} {form}" for h in _NAME_HEADS for t in _NAME_TAILS for form in LEGAL_FORM
    ]  # index = (head * n_tails + tail) * n_forms + form
    return pa.table(
        {
            "account_id": _id_strings("A", np.arange(1, n + 1), _width(n, 6)),
            "name": _labels(pool, acc["name"]),
            "industry": _labels(INDUSTRIES, acc["industry"]),
            "region": _labels(REGIONS, acc["region"]),
            "size": _labels(SIZES, acc["size"]),
            "target_account": pa.array(acc["target"], pa.bool_()),
            "ae_id": _labels(OWNERS, acc["ae"]),
        }
    )


# ----------------------------------------------------------------------------- one chunk
class _Context:
    """Everything a chunk needs that does not depend on the chunk."""

    def __init__(self, n_leads: int, as_of: pd.Timestamp, accounts: dict[str, np.ndarray]):
        self.n_leads = n_leads
        self.as_of_s = int(as_of.value // 1_000_000_000)
        as_of_day = as_of.tz_convert("Europe/Rome").date()
        self.window_days = 730
        first = as_of_day - timedelta(days=self.window_days + 7)
        self.cal = _Calendar(first, self.window_days + 7 + 9 * 366)
        self.window_first = 7  # calendar index of the first day leads can be created
        self.accounts = accounts
        w = SIZE_LEAD_WEIGHT[accounts["size"]]
        self.account_cdf = np.cumsum(w / w.sum())
        # daily lead volume: weekdays, August, Christmas, holidays, mild growth
        cal, lo = self.cal, self.window_first
        hi = lo + self.window_days
        dow, month, dom = cal.dow[lo:hi], cal.month[lo:hi], cal.dom[lo:hi]
        weight = np.array([1.05, 1.0, 1.0, 1.0, 0.85, 0.22, 0.15])[dow]
        weight = weight * np.where(month == 8, 0.4, 1.0)
        xmas = ((month == 12) & (dom >= 20)) | ((month == 1) & (dom <= 6))
        weight = weight * np.where(xmas, 0.3, 1.0)
        other_holiday = cal.holiday[lo:hi] & ~xmas & (month != 8)
        weight = weight * np.where(other_holiday, 0.5, 1.0)
        weight = weight * np.linspace(1.0, 1.25, self.window_days)
        self.day_cdf = np.cumsum(weight / weight.sum())
        # campaigns: one per source and calendar quarter in the window
        years = pd.DatetimeIndex(pd.date_range(first, periods=self.window_days + 7)).year
        self.year0 = int(years.min())
        n_years = int(years.max()) - self.year0 + 1
        names, ids = [], []
        for s, label in enumerate(CAMPAIGN_LABEL):
            for y in range(self.year0, self.year0 + n_years):
                for q in range(4):
                    text = QUARTER_FAIR[q] if s == S_TRADE else label
                    names.append(f"{text} {y} Q{q + 1}")
                    ids.append(f"C{y % 100:02d}Q{q + 1}-{SOURCE_ABBR[s]}")
        self.campaign_names, self.campaign_ids = names, ids
        self.n_quarters = 4 * n_years


def _simulate_chunk(
    ctx: _Context, rng: np.random.Generator, start: int, n: int, zrng: np.random.Generator
):
    """Simulate leads ``start .. start+n-1``: full trajectories, zombies, then the ``as_of`` cut.

    ``zrng`` draws the zombies only, so the rest of the data is the same as without them.
    """
    cal = ctx.cal
    acc = ctx.accounts
    idx = np.arange(n)

    # ---- leads: stratified quantiles keep lead ids in creation order across chunks
    u = (start + idx + rng.random(n)) / ctx.n_leads
    day = ctx.window_first + np.minimum(np.searchsorted(ctx.day_cdf, u), ctx.window_days - 1)
    tod = (np.clip(rng.normal(12.5, 3.2, n), 0, 23.99) * HOUR).astype(np.int64)
    t0 = np.minimum(cal.to_utc(day, tod), ctx.as_of_s - 1)
    account = np.minimum(np.searchsorted(ctx.account_cdf, rng.random(n)), ctx.account_cdf.size - 1)
    industry, region = acc["industry"][account], acc["region"][account]
    size, target, ae = acc["size"][account], acc["target"][account], acc["ae"][account]
    src = _choice(rng, SOURCE_P, n)
    product = _choice(rng, PRODUCT_P, n)
    team = REGION_TEAM[region]
    sdr = _SDR_OFFSET + _SDR_FIRST[team] + (rng.random(n) * np.asarray(TEAM_SDRS)[team]).astype(int)
    created_year = (cal.day0 + day).astype("datetime64[D]").astype("datetime64[Y]").astype(
        int
    ) + 1970
    quarter = (cal.month[day] - 1) // 3
    campaign = src * ctx.n_quarters + (created_year - ctx.year0) * 4 + quarter
    mkt = SOURCE_MKT[src]
    lead_owner = np.where(src == S_OUTBOUND, sdr, mkt)

    ev = _Log("lead", "stage", "t", "owner", "team", "reason")
    act = _Log("lead", "t", "kind", "team", "owner", "channel", "campaign")
    stats: dict[str, Any] = {}

    ev.add(
        lead=idx,
        stage=LEAD,
        t=t0,
        owner=lead_owner,
        team=np.where(src == S_OUTBOUND, SALES, MARKETING),
        reason=-1,
    )

    # first marketing touch
    touch = SOURCE_TOUCH_KIND[src] >= 0
    act.add(
        lead=idx[touch],
        t=t0[touch],
        kind=SOURCE_TOUCH_KIND[src][touch],
        team=MARKETING,
        owner=mkt[touch],
        channel=SOURCE_TOUCH_CHANNEL[src][touch],
        campaign=campaign[touch],
    )

    def sales_acts(lid, start_t, end_t, lam, kinds, kind_p, owner):
        """Poisson(lam) sales activities uniformly in (start, end], in business hours."""
        k = rng.poisson(lam, lid.size)
        rep = np.repeat(np.arange(lid.size), k)
        span = np.maximum(end_t - start_t, 1)[rep]
        t = start_t[rep] + (rng.random(rep.size) * span).astype(np.int64) + 1
        t = np.minimum(cal.push(t, rng), end_t[rep])
        kind = np.asarray(kinds)[_choice(rng, np.asarray(kind_p, float), rep.size)]
        chan = np.where(
            np.isin(kind, (K_CALL,)), C_PHONE, np.where(kind == K_EMAIL, C_EMAIL, C_VIDEO)
        )
        act.add(
            lead=lid[rep],
            t=t,
            kind=kind,
            team=SALES,
            owner=owner[lid][rep],
            channel=chan,
            campaign=-1,
        )

    def nurture(lid, start_t, end_t, lam):
        k = rng.poisson(lam, lid.size)
        rep = np.repeat(np.arange(lid.size), k)
        span = np.maximum(end_t - start_t, 1)[rep]
        t = start_t[rep] + (rng.random(rep.size) * span).astype(np.int64)
        kind = np.array([K_OPEN, K_CLICK, K_DOWNLOAD, K_WEBINAR, K_FORM])[
            _choice(rng, np.array([0.45, 0.2, 0.15, 0.1, 0.1]), rep.size)
        ]
        chan = np.select([kind <= K_CLICK, kind == K_WEBINAR], [C_EMAIL, C_WEBINAR], C_WEB)
        l_ = lid[rep]
        act.add(
            lead=l_,
            t=t,
            kind=kind,
            team=MARKETING,
            owner=mkt[l_],
            channel=chan,
            campaign=campaign[l_],
        )

    # ---- Lead -> MQL / direct SAL / junk
    r = rng.random(n)
    direct = _P_DIRECT[src] > 0
    to_mql = ~direct & (r < _P_MQL[src])
    junk = ~direct & ~to_mql & (r < _P_MQL[src] + PLANTED["p_junk_at_lead"])
    to_sal = direct & (r < _P_DIRECT[src])
    direct_dq = direct & ~to_sal & (r < _P_DIRECT[src] + 0.35)

    # scoring fires when the prospect acts (opens, clicks, downloads): mostly office hours
    mql_t0 = cal.push(t0 + _secs(rng, 2 * DAY, 1.3, n), rng)
    end_mkt = np.where(to_mql, mql_t0, t0 + 90 * DAY)
    nurture_leads = idx[src != S_OUTBOUND]
    nurture(
        nurture_leads,
        t0[nurture_leads],
        end_mkt[nurture_leads],
        np.where(to_mql, 3.0, 1.2)[nurture_leads],
    )

    j = idx[junk]
    ev.add(
        lead=j,
        stage=DQ,
        t=t0[j] + _secs(rng, 2 * DAY, 0.8, j.size),
        owner=mkt[j],
        team=MARKETING,
        reason=R_JUNK,
    )

    # direct leads (outbound, distributor referrals): SDR works them straight away
    d_all = idx[direct & (to_sal | direct_dq)]
    d_end = cal.push(t0[d_all] + _secs(rng, 3 * DAY, 1.0, d_all.size), rng)
    d_end = np.where(to_sal[d_all], d_end, d_end + _secs(rng, 10 * DAY, 0.5, d_all.size))
    first_touch = np.where(
        src[d_all] == S_OUTBOUND,
        t0[d_all],
        np.minimum(cal.push(t0[d_all] + _secs(rng, 4 * HOUR, 1.0, d_all.size), rng), d_end),
    )
    act.add(
        lead=d_all,
        t=first_touch,
        kind=np.where(src[d_all] == S_OUTBOUND, K_CALL, K_EMAIL),
        team=SALES,
        owner=sdr[d_all],
        channel=np.where(src[d_all] == S_OUTBOUND, C_PHONE, C_EMAIL),
        campaign=-1,
    )
    sales_acts(d_all, first_touch, d_end, 1.0, (K_CALL, K_EMAIL), (0.5, 0.5), sdr)
    dq_mask = direct_dq[d_all]
    dq_reason = np.where(rng.random(d_all.size) < 0.6, R_NORESP, R_FIT)
    ev.add(
        lead=d_all[dq_mask],
        stage=DQ,
        t=d_end[dq_mask],
        owner=sdr[d_all][dq_mask],
        team=SALES,
        reason=dq_reason[dq_mask],
    )
    sal_lid = [d_all[~dq_mask]]
    sal_t = [d_end[~dq_mask]]
    sal_bucket = [np.full((~dq_mask).sum(), -1)]

    # ground-truth accumulators (uncensored)
    g_handoff = []  # (hours, industry, team) for MQL -> SAL
    g_accept = []  # (source, accepted) per MQL visit
    g_resp = []  # (source, size, bucket, sql) per MQL-origin SAL visit
    g_opp = []  # (target, won)
    first_mql = np.full(n, -1, np.int64)
    first_sql = np.full(n, -1, np.int64)

    mql_lid, mql_t = idx[to_mql], mql_t0[to_mql]

    for rnd in range(_MAX_ROUNDS):
        recycled_lid, recycled_t = [], []
        sql_lid, sql_t = [], []
        # ---- MQL and the hand-off
        m = mql_lid
        nm = m.size
        unset = first_mql[m] < 0  # also direct leads that were recycled into nurture
        first_mql[m[unset]] = mql_t[unset]
        ev.add(lead=m, stage=MQL, t=mql_t, owner=mkt[m], team=MARKETING, reason=-1)
        ignored = rng.random(nm) < PLANTED["p_mql_ignored"]
        hours = _lognormal(
            rng,
            np.where(
                rng.random(nm) < _BACKLOG_SHARE[team[m]],
                PLANTED["handoff_backlog_median_hours"],
                PLANTED["handoff_median_hours"],
            )
            * _HANDOFF_IND_F[industry[m]]
            * _HANDOFF_SRC_F[src[m]],
            PLANTED["handoff_sigma"],
            nm,
        )
        decision = cal.push(mql_t + (hours * HOUR).astype(np.int64), rng)
        resp_raw = mql_t + (hours * rng.beta(1.0, 3.0, nm) * HOUR).astype(np.int64)
        resp = np.minimum(cal.push(resp_raw, rng), decision)
        u = rng.random(nm)
        accepted = ~ignored & (u < _P_ACCEPT[src[m]])
        leak = ~ignored & ~accepted & (src[m] == S_PAID) & (u < _P_ACCEPT_REST)
        rejected = ~ignored & ~accepted
        skip = accepted & (rng.random(nm) < PLANTED["p_skip_sal"])
        g_accept.append(np.stack([src[m], accepted]))
        to_sal_m = accepted & ~skip
        g_handoff.append(
            np.stack(
                [(decision - mql_t)[to_sal_m] / HOUR, industry[m][to_sal_m], team[m][to_sal_m]]
            )
        )
        # sales touches: first response, then follow-ups until the decision
        touched = ~ignored
        tm = m[touched]
        act.add(
            lead=tm,
            t=resp[touched],
            kind=np.where(rng.random(tm.size) < 0.6, K_CALL, K_EMAIL),
            team=SALES,
            owner=sdr[tm],
            channel=-2,
            campaign=-1,
        )
        sales_acts(tm, resp[touched], decision[touched], 0.8, (K_CALL, K_EMAIL), (0.5, 0.5), sdr)
        # rejections
        rej_dq = rejected & (leak | (rng.random(nm) < 0.6))
        rej_rec = rejected & ~rej_dq
        dq_reason = np.where(
            leak,
            R_FIT,
            np.array([R_FIT, R_BUDGET, R_JUNK, R_NORESP])[
                _choice(rng, np.array([0.35, 0.25, 0.2, 0.2]), nm)
            ],
        )
        ev.add(
            lead=m[rej_dq],
            stage=DQ,
            t=decision[rej_dq],
            owner=sdr[m][rej_dq],
            team=SALES,
            reason=dq_reason[rej_dq],
        )
        rec_reason = np.where(rng.random(nm) < 0.6, R_TIMING, R_NORESP)
        ev.add(
            lead=m[rej_rec],
            stage=REC,
            t=decision[rej_rec],
            owner=sdr[m][rej_rec],
            team=SALES,
            reason=rec_reason[rej_rec],
        )
        recycled_lid.append(m[rej_rec])
        recycled_t.append(decision[rej_rec])
        ign_t = mql_t[ignored] + _secs(rng, 40 * DAY, 0.4, ignored.sum())
        ev.add(
            lead=m[ignored],
            stage=REC,
            t=ign_t,
            owner=mkt[m][ignored],
            team=MARKETING,
            reason=R_NOFOLLOW,
        )
        recycled_lid.append(m[ignored])
        recycled_t.append(ign_t)
        # accepted: SAL (or straight to SQL)
        rt = (resp - mql_t)[to_sal_m]
        bucket = np.where(rt <= HOUR, 0, np.where(rt <= DAY, 1, 2))
        sal_lid.append(m[to_sal_m])
        sal_t.append(decision[to_sal_m])
        sal_bucket.append(bucket)
        sql_lid.append(m[skip])
        sql_t.append(decision[skip])

        # ---- SAL -> SQL / Disqualified / Recycled
        s = np.concatenate(sal_lid)
        st = np.concatenate(sal_t)
        sb = np.concatenate(sal_bucket)
        sal_lid, sal_t, sal_bucket = [], [], []
        ev.add(lead=s, stage=SAL, t=st, owner=sdr[s], team=SALES, reason=-1)
        p_sql = _P_SQL_BASE[src[s]] * _SQL_SIZE[size[s]] * np.where(sb >= 0, _RESP_MULT[sb], 1.0)
        qualified = rng.random(s.size) < p_sql
        from_mql = sb >= 0
        g_resp.append(np.stack([src[s], size[s], sb, qualified])[:, from_mql])
        q_t = cal.push(st + _secs(rng, 6 * DAY, 0.9, s.size), rng)
        x_t = cal.push(st + _secs(rng, 14 * DAY, 0.8, s.size), rng)
        end = np.where(qualified, q_t, x_t)
        sales_acts(s, st, end, 1.5, (K_CALL, K_EMAIL, K_MEETING), (0.45, 0.35, 0.2), sdr)
        nq = ~qualified
        dq = nq & (rng.random(s.size) < 0.65)
        rec = nq & ~dq
        reason = np.array([R_BUDGET, R_NORESP, R_FIT])[
            _choice(rng, np.array([0.4, 0.35, 0.25]), s.size)
        ]
        ev.add(lead=s[dq], stage=DQ, t=x_t[dq], owner=sdr[s][dq], team=SALES, reason=reason[dq])
        rreason = np.where(rng.random(s.size) < 0.7, R_TIMING, R_NORESP)
        ev.add(
            lead=s[rec], stage=REC, t=x_t[rec], owner=sdr[s][rec], team=SALES, reason=rreason[rec]
        )
        recycled_lid.append(s[rec])
        recycled_t.append(x_t[rec])
        sql_lid.append(s[qualified])
        sql_t.append(q_t[qualified])

        # ---- SQL -> Opportunity / Disqualified / Recycled
        q = np.concatenate(sql_lid)
        qt = np.concatenate(sql_t)
        ev.add(lead=q, stage=SQL, t=qt, owner=sdr[q], team=SALES, reason=-1)
        unset = (first_sql[q] < 0) & (first_mql[q] >= 0) & (qt >= first_mql[q])
        first_sql[q[unset]] = qt[unset]
        to_opp = rng.random(q.size) < PLANTED["p_opportunity"]
        o_t = cal.push(qt + _secs(rng, 12 * DAY, 0.8, q.size), rng)
        x_t = cal.push(qt + _secs(rng, 25 * DAY, 0.8, q.size), rng)
        end = np.where(to_opp, o_t, x_t)
        k = rng.random(q.size) < 0.7  # demo first for most
        sales_acts(q, qt, end, 1.0, (K_MEETING, K_CALL, K_EMAIL), (0.4, 0.3, 0.3), ae)
        act.add(
            lead=q[k],
            t=np.minimum(cal.push(qt[k] + _secs(rng, 3 * DAY, 0.7, k.sum()), rng), end[k]),
            kind=K_DEMO,
            team=SALES,
            owner=ae[q][k],
            channel=C_VIDEO,
            campaign=-1,
        )
        nq = ~to_opp
        dq = nq & (rng.random(q.size) < 0.6)
        rec = nq & ~dq
        reason = np.array([R_BUDGET, R_COMP, R_FIT])[
            _choice(rng, np.array([0.4, 0.3, 0.3]), q.size)
        ]
        ev.add(lead=q[dq], stage=DQ, t=x_t[dq], owner=ae[q][dq], team=SALES, reason=reason[dq])
        ev.add(lead=q[rec], stage=REC, t=x_t[rec], owner=ae[q][rec], team=SALES, reason=R_TIMING)
        recycled_lid.append(q[rec])
        recycled_t.append(x_t[rec])

        # ---- Opportunity -> Won / Lost (close time independent of the outcome)
        o = q[to_opp]
        ot = o_t[to_opp]
        ev.add(lead=o, stage=OPP, t=ot, owner=ae[o], team=SALES, reason=-1)
        p_won = np.where(target[o], PLANTED["p_won_target_account"], PLANTED["p_won"])
        won = rng.random(o.size) < p_won
        close = cal.push(ot + _secs(rng, _CLOSE_MEDIAN_DAYS[size[o]] * DAY, 0.6, o.size), rng)
        g_opp.append(np.stack([target[o], won]))
        lost_reason = np.array([R_COMP, R_BUDGET, R_TIMING, R_PRICE, R_NODEC])[
            _choice(rng, np.array([0.35, 0.2, 0.2, 0.15, 0.1]), o.size)
        ]
        ev.add(
            lead=o,
            stage=np.where(won, WON, LOST),
            t=close,
            owner=ae[o],
            team=SALES,
            reason=np.where(won, -1, lost_reason),
        )
        quote = np.minimum(cal.push(ot + _secs(rng, 4 * DAY, 0.7, o.size), rng), close)
        act.add(
            lead=o, t=quote, kind=K_QUOTE, team=SALES, owner=ae[o], channel=C_EMAIL, campaign=-1
        )
        sales_acts(o, ot, close, 2.0, (K_MEETING, K_CALL, K_EMAIL), (0.35, 0.35, 0.3), ae)
        amount = np.round(_lognormal(rng, _AMOUNT_MEDIAN[size[o]], PLANTED["amount_sigma"], o.size))
        stats.setdefault("opps", []).append((o, ot, close, won, amount))

        # ---- recycling loop: some recycled leads re-enter MQL after nurture
        rl = np.concatenate(recycled_lid)
        rt_ = np.concatenate(recycled_t)
        back = rng.random(rl.size) < PLANTED["p_recycled_reenter"]
        mql_lid = rl[back]
        mql_t = cal.push(rt_[back] + _secs(rng, 90 * DAY, 0.5, back.sum()), rng)
        nurture(mql_lid, rt_[back], mql_t, 1.5)
        if rnd == _MAX_ROUNDS - 1 or mql_lid.size == 0:
            break

    # ---- zombies: abandoned at one visit, silent ever since (their own random stream)
    e, a = ev.columns(), act.columns()
    opp_parts = stats["opps"]
    z_lead, z_stage, z_t, e, a, stats["opps"] = _zombies(ctx, zrng, e, a, opp_parts)
    # what a zombie never did after it went silent did not happen (the true conversion)
    first_mql[z_lead] = np.where(first_mql[z_lead] > z_t, -1, first_mql[z_lead])
    first_sql[z_lead] = np.where(first_sql[z_lead] > z_t, -1, first_sql[z_lead])
    stats["zombies"] = (
        _id_strings("L", start + z_lead + 1, _width(ctx.n_leads, 7)).to_pylist(),
        z_stage,
        z_t,
    )

    # ---- ground truth pieces (uncensored, apart from what zombies never did)
    stats["handoff"] = np.concatenate(g_handoff, axis=1)
    stats["accept"] = np.concatenate(g_accept, axis=1).astype(np.int64)
    stats["resp"] = np.concatenate(g_resp, axis=1).astype(np.int64)
    stats["opp"] = np.concatenate(g_opp, axis=1).astype(np.int64)
    has = first_mql >= 0
    month = first_mql[has].astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    reached = (first_sql[has] >= 0) & (first_sql[has] - first_mql[has] <= 90 * DAY)
    stats["cohort"] = (month, reached)

    # ---- the as_of cut and the tables
    cut = ctx.as_of_s
    lead_ids = _id_strings("L", start + idx + 1, _width(ctx.n_leads, 7))
    acc_width = _width(ctx.accounts["industry"].size, 6)
    leads = pa.table(
        {
            "lead_id": lead_ids,
            "created_at": _timestamps(t0),
            "account_id": _id_strings("A", account + 1, acc_width),
            "source": _labels(SOURCES, src),
            "campaign": _labels(ctx.campaign_names, campaign),
            "industry": _labels(INDUSTRIES, industry),
            "region": _labels(REGIONS, region),
            "company_size": _labels(SIZES, size),
            "product_line": _labels(PRODUCT_LINES, product),
            "target_account": pa.array(target, pa.bool_()),
            "sdr_team": _labels(TEAMS, team),
            "sdr_id": _labels(OWNERS, sdr),
            "ae_id": _labels(OWNERS, ae),
        }
    )

    keep = e["t"] <= cut
    e = {k: v[keep] for k, v in e.items()}
    order = np.lexsort((e["stage"], e["t"], e["lead"]))
    e = {k: v[order] for k, v in e.items()}
    events = pa.table(
        {
            "lead_id": lead_ids.take(pa.array(e["lead"])),
            "stage": _labels(STAGES, e["stage"]),
            "entered_at": _timestamps(e["t"]),
            "owner_id": _labels(OWNERS, e["owner"]),
            "team": _labels(TEAM_NAMES, e["team"]),
            "reason": _labels(REASONS, e["reason"]),
        }
    )

    keep = a["t"] <= cut
    a = {k: v[keep] for k, v in a.items()}
    order = np.lexsort((a["kind"], a["t"], a["lead"]))
    a = {k: v[order] for k, v in a.items()}
    channel = np.where(
        a["channel"] == -2, np.where(a["kind"] == K_CALL, C_PHONE, C_EMAIL), a["channel"]
    )
    activities = {
        "lead": a["lead"],
        "occurred_at": _timestamps(a["t"]),
        "kind": _labels(ACTIVITY_KINDS, a["kind"]),
        "team": _labels(TEAM_NAMES, a["team"]),
        "owner_id": _labels(OWNERS, a["owner"]),
        "channel": _labels(CHANNELS, channel),
        "campaign_id": _labels(ctx.campaign_ids, a["campaign"]),
    }

    o_parts = stats.pop("opps")
    o_lead, o_t, o_close, o_won, o_amount = (np.concatenate(p) for p in zip(*o_parts, strict=True))
    keep = o_t <= cut
    order = np.lexsort((o_t[keep], o_lead[keep]))
    o_lead, o_t, o_close, o_won, o_amount = (
        v[keep][order] for v in (o_lead, o_t, o_close, o_won, o_amount)
    )
    open_ = o_close > cut
    opportunities = {
        "lead": o_lead,
        "created_at": _timestamps(o_t),
        "closed_at": _timestamps(o_close, open_),
        "amount": pa.array(o_amount, pa.float64()),
        "won": pa.array(o_won, pa.bool_(), mask=open_),
        "owner_id": _labels(OWNERS, ae[o_lead]),
        "product_line": _labels(PRODUCT_LINES, product[o_lead]),
        "account": account[o_lead],
    }
    return leads, events, activities, opportunities, lead_ids, stats


def _zombies(ctx: _Context, zrng: np.random.Generator, e: dict, a: dict, opps: list):
    """Abandon ``p_zombie`` of the eligible leads at one of their old visits.

    Eligible: a lead with a visit of MQL, SAL, SQL or Opportunity entered at least
    ``zombie_min_silent_days`` before ``as_of``. A picked lead keeps one such visit (uniformly
    among its eligible ones) open forever: its later stage events and activities are dropped,
    an opportunity created later is dropped, and one still open after the visit stays open.
    Returns the zombies (lead index, stage, entry time) and the thinned log.
    """
    oldest = ctx.as_of_s - PLANTED["zombie_min_silent_days"] * DAY
    eligible = np.isin(e["stage"], (MQL, SAL, SQL, OPP)) & (e["t"] <= oldest)
    candidates = np.unique(e["lead"][eligible])
    picked = candidates[zrng.random(candidates.size) < PLANTED["p_zombie"]]
    rows = np.flatnonzero(eligible & np.isin(e["lead"], picked))
    order = np.lexsort((zrng.random(rows.size), e["lead"][rows]))
    rows = rows[order]
    last = np.ones(rows.size, bool)  # the last row of each lead after a random order: one visit
    last[:-1] = e["lead"][rows][1:] != e["lead"][rows][:-1]
    chosen = rows[last]
    z_lead = e["lead"][chosen].astype(np.int64)
    z_stage, z_t = e["stage"][chosen], e["t"][chosen]
    when = np.full(ctx.n_leads + 1, np.iinfo(np.int64).max)  # per lead index: zombie time
    stage_at = np.zeros(ctx.n_leads + 1, np.int16)
    when[z_lead], stage_at[z_lead] = z_t, z_stage
    t_z = when[e["lead"]]
    later = (e["t"] > t_z) | ((e["t"] == t_z) & (e["stage"] > stage_at[e["lead"]]))
    e = {k: v[~later] for k, v in e.items()}
    a = {k: v[a["t"] <= when[a["lead"]]] for k, v in a.items()}
    kept = []
    for o_lead, o_t, close, won, amount in opps:
        t_lead = when[o_lead]
        keep = o_t <= t_lead
        still_open = close > t_lead
        close = np.where(still_open, np.iinfo(np.int64).max // 2, close)
        kept.append(tuple(v[keep] for v in (o_lead, o_t, close, won, amount)))
    return z_lead, z_stage, z_t, e, a, kept


# ----------------------------------------------------------------------------- driver
def _parse_as_of(as_of) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise FunnelConfigError(
            f"as_of {as_of!r} is not a date or timestamp; use e.g. '2026-09-30'"
        ) from None
    if ts is pd.NaT:
        raise FunnelConfigError(f"as_of {as_of!r} is not a date or timestamp")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if not (pd.Timestamp("1990-01-01", tz="UTC") <= ts <= pd.Timestamp("2100-01-01", tz="UTC")):
        raise FunnelConfigError(f"as_of {as_of!r} is outside 1990-2100")
    return ts.as_unit("s")


def _check(n_leads, chunk_size, file_format, seed=0) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise FunnelConfigError(f"seed must be a non-negative whole number, got {seed!r}")
    if isinstance(n_leads, bool) or not isinstance(n_leads, (int, np.integer)) or n_leads < 1:
        raise FunnelConfigError(f"n_leads must be a whole number of at least 1, got {n_leads!r}")
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise FunnelConfigError(f"chunk_size must be a positive whole number, got {chunk_size!r}")
    if file_format not in ("parquet", "csv"):
        raise FunnelConfigError(f"file_format must be 'parquet' or 'csv', got {file_format!r}")


def _iter_chunks(n_leads: int, seed: int, as_of: pd.Timestamp, chunk_size: int):
    """Yield (accounts table, then per chunk: tables + stats) with counters for ids."""
    n_chunks = -(-n_leads // chunk_size)
    # children 0 .. n_chunks as before zombies existed; the zombies' streams come after them
    children = np.random.SeedSequence(seed).spawn(1 + 2 * n_chunks)
    n_accounts = max(1, round(n_leads / 6))
    accounts = _accounts(np.random.default_rng(children[0]), n_accounts)
    ctx = _Context(n_leads, as_of, accounts)
    yield ctx
    acc_width = _width(n_accounts, 6)
    n_act = n_opp = 0
    for c in range(n_chunks):
        start = c * chunk_size
        n = min(chunk_size, n_leads - start)
        rng = np.random.default_rng(children[1 + c])
        zrng = np.random.default_rng(children[1 + n_chunks + c])
        leads, events, a, o, lead_ids, stats = _simulate_chunk(ctx, rng, start, n, zrng)
        m = a["lead"].size
        activities = pa.table(
            {
                "activity_id": _id_strings("ACT", np.arange(n_act + 1, n_act + m + 1), 9),
                "lead_id": lead_ids.take(pa.array(a.pop("lead"))),
                **a,
            }
        )
        n_act += m
        k = o["lead"].size
        opportunities = pa.table(
            {
                "opportunity_id": _id_strings("OPP", np.arange(n_opp + 1, n_opp + k + 1), 7),
                "lead_id": lead_ids.take(pa.array(o.pop("lead"))),
                "account_id": _id_strings("A", o.pop("account") + 1, acc_width),
                **o,
            }
        )
        opportunities = opportunities.select(
            [
                "opportunity_id",
                "lead_id",
                "account_id",
                "created_at",
                "closed_at",
                "amount",
                "won",
                "owner_id",
                "product_line",
            ]
        )
        n_opp += k
        yield (
            {
                "leads": leads,
                "stage_events": events,
                "activities": activities,
                "opportunities": opportunities,
            },
            stats,
        )


class _Truth:
    """Accumulates the uncensored ground truth over chunks."""

    def __init__(self):
        self.handoff: list[np.ndarray] = []
        self.accept = np.zeros((len(SOURCES), 2), np.int64)
        self.resp = np.zeros((len(SOURCES), len(SIZES), 3, 2), np.int64)
        self.opp = np.zeros((2, 2), np.int64)
        self.cohort: dict[int, list[int]] = {}
        self.zombie_ids: list[str] = []
        self.zombie_stage: list[np.ndarray] = []
        self.zombie_t: list[np.ndarray] = []

    def add(self, stats) -> None:
        ids, z_stage, z_t = stats["zombies"]
        self.zombie_ids += ids
        self.zombie_stage.append(z_stage)
        self.zombie_t.append(z_t)
        self.handoff.append(stats["handoff"].astype(np.float32))
        src, acc = stats["accept"]
        np.add.at(self.accept, (src, acc), 1)
        s, z, b, q = stats["resp"]
        np.add.at(self.resp, (s, z, b, q), 1)
        t, w = stats["opp"]
        np.add.at(self.opp, (t, w), 1)
        month, reached = stats["cohort"]
        months, inverse = np.unique(month, return_inverse=True)
        totals = np.bincount(inverse, minlength=months.size)
        hits = np.bincount(inverse, weights=reached, minlength=months.size)
        for mo, tot, hit in zip(months, totals, hits, strict=True):
            cur = self.cohort.setdefault(int(mo), [0, 0])
            cur[0] += int(tot)
            cur[1] += int(hit)

    def effects(self) -> dict[str, Any]:
        h = np.concatenate(self.handoff, axis=1) if self.handoff else np.zeros((3, 0))
        hours, ind, team = h[0].astype(float), h[1].astype(int), h[2].astype(int)
        seg = ind == INDUSTRIES.index("automotive")
        south = team == TEAMS.index("SDR South")

        def med(x):
            return round(float(np.median(x)), 2) if x.size else None

        def share(x):
            return round(float(np.mean(x)), 4) if x.size else None

        sla = 24.0
        paid = SOURCES.index("paid_search")
        acc_paid = self.accept[paid]
        acc_rest = self.accept[[i for i in range(len(SOURCES)) if i != paid]].sum(axis=0)
        resp = self.resp.sum(axis=(0, 1))
        naive = [resp[b, 1] / max(resp[b].sum(), 1) for b in range(3)]
        won_t = self.opp[1, 1] / max(self.opp[1].sum(), 1)
        won_n = self.opp[0, 1] / max(self.opp[0].sum(), 1)
        mult = PLANTED["response_multiplier"]
        return {
            "slow_handoff": {
                "description": (
                    "MQL→SAL hand-off is slow in the automotive industry: its raw lognormal "
                    "delay is scaled by planted_delay_factor for every team and source "
                    "(industry is independent of region/team and source); after sales hours, "
                    "weekends and holidays the realised median is about 4× the rest. Medians "
                    "are the realised hours from MQL entry to SAL entry over all uncensored "
                    "MQL→SAL transitions of this dataset."
                ),
                "from_stage": "MQL",
                "to_stage": "SAL",
                "segment": {"industry": "automotive"},
                "planted_delay_factor": PLANTED["handoff_industry_factor"]["automotive"],
                "median_hours_segment": med(hours[seg]),
                "median_hours_rest": med(hours[~seg]),
                "ratio": round(float(np.median(hours[seg]) / np.median(hours[~seg])), 3)
                if seg.any() and (~seg).any()
                else None,
                "n_segment": int(seg.sum()),
                "n_rest": int((~seg).sum()),
            },
            "sla_breach_team": {
                "description": (
                    "SDR South (Italy and Iberia) breaches the 24 h MQL→SAL SLA: share of "
                    "MQL→SAL transitions accepted within 24 h. Separable from slow_handoff: "
                    "teams are routed by region, industry is drawn independently of region."
                ),
                "from_stage": "MQL",
                "to_stage": "SAL",
                "sla_hours": sla,
                "segment": {"sdr_team": "SDR South"},
                "sla_attainment_segment": share(hours[south] <= sla),
                "sla_attainment_rest": share(hours[~south] <= sla),
                "sla_attainment_by_team": {
                    t: share(hours[team == i] <= sla) for i, t in enumerate(TEAMS)
                },
                "planted_backlog_share_by_team": dict(PLANTED["handoff_backlog_share_by_team"]),
            },
            "response_time_effect": {
                "description": (
                    "P(SAL→SQL) of MQL-origin SALs is multiplied by a factor that depends only "
                    "on the first sales response time after MQL (the first sales activity): "
                    "≤1 h ×1.0, 1–24 h ×0.65, >24 h ×0.40, holding source and company size "
                    "fixed, so P(SQL | ≤1h) / P(SQL | >24h) = 2.5 within every stratum. "
                    "Confounded by source: trade-fair leads are contacted slowest (badge scans "
                    "processed after the fair) but convert best; web-form leads are answered "
                    "fastest. SDR team and industry also change response time but not "
                    "conversion; company size changes conversion but not response time."
                ),
                "from_stage": "SAL",
                "to_stage": "SQL",
                "buckets": ["<=1h", "1-24h", ">24h"],
                "planted_multiplier": dict(mult),
                "true_ratio_fast_vs_slow": round(mult["<=1h"] / mult[">24h"], 6),
                "confounders": ["source"],
                "other_causes_of_response_time": ["sdr_team", "industry"],
                "other_causes_of_conversion": ["company_size"],
                "realised_naive_sql_rate_by_bucket": {
                    k: round(float(v), 4) for k, v in zip(mult, naive, strict=True)
                },
                "n_sal_by_bucket": {k: int(resp[b].sum()) for b, k in enumerate(mult)},
            },
            "leaky_channel": {
                "description": (
                    "Sales rejects paid-search MQLs far more often (Disqualified, reason "
                    "'not a fit'): probability that an MQL visit is accepted (next stage SAL, "
                    "or SQL directly) rather than rejected, recycled or left untouched."
                ),
                "from_stage": "MQL",
                "to_stage": "SAL",
                "segment": {"source": "paid_search"},
                "reason": "not a fit",
                "planted_acceptance_segment": PLANTED["p_accept_by_source"]["paid_search"],
                "planted_acceptance_rest": PLANTED["p_accept"],
                "realised_acceptance_segment": round(
                    float(acc_paid[1] / max(acc_paid.sum(), 1)), 4
                ),
                "realised_acceptance_rest": round(float(acc_rest[1] / max(acc_rest.sum(), 1)), 4),
                "n_mql_segment": int(acc_paid.sum()),
                "n_mql_rest": int(acc_rest.sum()),
            },
            "abm_lift": {
                "description": (
                    "Opportunities of target (ABM) accounts are won more often; nothing else "
                    "changes the win probability, and close time does not depend on the "
                    "outcome (so closed opportunities are an unbiased sample)."
                ),
                "from_stage": "Opportunity",
                "to_stage": "Won",
                "segment": {"target_account": True},
                "planted_won_probability_target": PLANTED["p_won_target_account"],
                "planted_won_probability_rest": PLANTED["p_won"],
                "planted_ratio": round(PLANTED["p_won_target_account"] / PLANTED["p_won"], 4),
                "realised_won_share_target": round(float(won_t), 4),
                "realised_won_share_rest": round(float(won_n), 4),
                "n_opportunities_target": int(self.opp[1].sum()),
                "n_opportunities_rest": int(self.opp[0].sum()),
            },
        }

    def zombies(self, as_of: pd.Timestamp) -> dict[str, Any]:
        stage = np.concatenate(self.zombie_stage) if self.zombie_stage else np.zeros(0, int)
        t = np.concatenate(self.zombie_t) if self.zombie_t else np.zeros(0, np.int64)
        days = (int(as_of.value // 1_000_000_000) - t) / DAY
        order = np.argsort(self.zombie_ids, kind="stable")

        def pct(q):
            return round(float(np.percentile(days, q)), 1) if days.size else None

        return {
            "description": (
                "Leads abandoned in the CRM: each has a visit of MQL, SAL, SQL or Opportunity "
                "entered at least min_silent_days before as_of, after which it has no stage "
                "event, no activity and no new opportunity (an open opportunity stays open). "
                "Drawn with probability p_zombie per eligible lead, independently of every "
                "attribute, from their own random stream: the rest of the data is the same as "
                "without zombies, and the planted effects (measured on the trajectories before "
                "the zombies were cut) keep their sizes."
            ),
            "p_zombie": PLANTED["p_zombie"],
            "min_silent_days": PLANTED["zombie_min_silent_days"],
            "n": len(self.zombie_ids),
            "by_stage": {STAGES[k]: int((stage == k).sum()) for k in (MQL, SAL, SQL, OPP)},
            "days_silent_at_as_of": {"min": pct(0), "median": pct(50), "max": pct(100)},
            "lead_ids": [self.zombie_ids[i] for i in order],
        }

    def true_conversion(self, as_of: pd.Timestamp) -> dict[str, Any]:
        last = as_of.tz_localize(None).to_datetime64().astype("datetime64[M]").astype(np.int64)
        cohorts = {}
        for mo in sorted(self.cohort):
            if mo > last:
                continue
            tot, hit = self.cohort[mo]
            key = str(np.datetime64(mo, "M"))
            cohorts[key] = {"mqls": tot, "sql_within_90d": hit, "share": round(hit / tot, 4)}
        return {
            "description": (
                "For each calendar month of a lead's FIRST MQL entry (UTC), the true share of "
                "those leads that reach SQL within 90 days of that MQL entry, from the "
                "uncensored simulated trajectories (before the as_of cut)."
            ),
            "window_days": 90,
            "from_stage": "MQL",
            "to_stage": "SQL",
            "cohorts": cohorts,
        }


def _run(n_leads, seed, as_of, chunk_size, sink, show_progress=False) -> dict:
    from funnel_models.core._progress import progress

    as_of_ts = _parse_as_of(as_of)
    it = _iter_chunks(n_leads, seed, as_of_ts, chunk_size)
    ctx = next(it)
    sink("accounts", _accounts_table(ctx.accounts))
    truth = _Truth()
    rows = {"accounts": ctx.accounts["industry"].size}
    n_chunks = -(-n_leads // chunk_size)
    chunks: Iterator = progress(it, total=n_chunks, desc="generating") if show_progress else it
    for tables, stats in chunks:
        for name, table in tables.items():
            rows[name] = rows.get(name, 0) + table.num_rows
            sink(name, table)
        truth.add(stats)
    return {
        "as_of": as_of_ts.isoformat(),
        "seed": int(seed),
        "n_leads": int(n_leads),
        "chunk_size": int(chunk_size),
        "rows": {t: int(rows.get(t, 0)) for t in TABLES},
        "effects": truth.effects(),
        "true_conversion": truth.true_conversion(as_of_ts),
        "zombies": truth.zombies(as_of_ts),
        "parameters": PLANTED,
        "generator": "funnel_models.synthetic",
    }


def generate_tables(
    n_leads: int = 2_000, *, seed: int = 0, as_of="2026-09-30"
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Generate the synthetic CRM in memory.

    Parameters
    ----------
    n_leads : int
        Number of leads; about ``n_leads / 6`` accounts are created.
    seed : int
        Seed of every random draw; the same seed gives the same tables.
    as_of : str or Timestamp
        The moment the CRM is observed (a date means midnight UTC). Leads are
        created over the 730 days before it; nothing after it is kept.

    Returns
    -------
    tables : dict of str to DataFrame
        ``leads``, ``stage_events``, ``activities``, ``opportunities``, ``accounts``
        with timezone-aware UTC timestamps.
    truth : dict
        The ground truth (planted effects and their true sizes), as written to
        ``ground_truth.json`` by :func:`generate`.

    Examples
    --------
    >>> tables, truth = generate_tables(300, seed=7)
    >>> tables["stage_events"]["stage"].iloc[0]
    'Lead'
    >>> truth["effects"]["leaky_channel"]["segment"]
    {'source': 'paid_search'}
    """
    _check(n_leads, 200_000, "parquet", seed)
    parts: dict[str, list[pa.Table]] = {t: [] for t in TABLES}
    truth = _run(n_leads, seed, as_of, 200_000, lambda name, tbl: parts[name].append(tbl))
    tables = {name: _to_pandas(pa.concat_tables(parts[name])) for name in TABLES}
    return tables, truth


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas()
    if "won" in table.column_names:
        df["won"] = pd.array(table.column("won").to_pylist(), dtype="boolean")
    return df


def _csv_table(table: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 with 'Z', so CSV text is fixed and readable."""
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col.cast(pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
        cols[name] = col
    return pa.table(cols)


class _FileSink:
    def __init__(self, out_dir: Path, file_format: str):
        self.out_dir, self.file_format = out_dir, file_format
        self.writers: dict[str, Any] = {}

    def __call__(self, name: str, table: pa.Table) -> None:
        writer = self.writers.get(name)
        path = self.out_dir / f"{name}.{self.file_format}"
        if self.file_format == "parquet":
            if writer is None:
                writer = self.writers[name] = pq.ParquetWriter(
                    path,
                    table.schema,
                    compression="snappy",
                    use_dictionary=True,
                    write_statistics=True,
                    version="2.6",
                )
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
        else:
            table = _csv_table(table)
            if writer is None:
                writer = self.writers[name] = pacsv.CSVWriter(path, table.schema)
            writer.write_table(table)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()


def generate(
    out_dir,
    *,
    n_leads: int = 10_000,
    seed: int = 0,
    as_of="2026-09-30",
    file_format: str = "parquet",
    chunk_size: int = 200_000,
    show_progress: bool = False,
) -> dict:
    """Write a synthetic CRM dataset folder and return its ground truth.

    The folder holds ``leads``, ``stage_events``, ``activities``,
    ``opportunities`` and ``accounts`` (``.parquet`` or ``.csv``), ``funnel.yaml``
    (the default funnel) and ``ground_truth.json`` (the planted effects with
    their true sizes, row counts, the true MQL→SQL conversion per monthly
    cohort and the zombie leads). Leads are simulated ``chunk_size`` at a time and each chunk is one
    Parquet row group, so memory stays bounded for millions of leads.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write (created if missing; existing tables are overwritten).
    n_leads : int
        Number of leads (at least 1).
    seed : int
        Seed; the same ``seed``, ``n_leads``, ``as_of`` and ``chunk_size`` give
        byte-identical files.
    as_of : str or Timestamp
        When the CRM is observed (a date means midnight UTC).
    file_format : {"parquet", "csv"}
        Table format. CSV timestamps are written as ``2026-01-31T09:15:00Z``.
    chunk_size : int
        Leads simulated per chunk (each chunk has its own random stream).
    show_progress : bool
        Show a progress bar on stderr (only when stderr is a terminal).

    Returns
    -------
    dict
        The ground truth, as written to ``ground_truth.json``.

    Raises
    ------
    FunnelConfigError
        For an invalid ``n_leads``, ``as_of``, ``file_format`` or ``chunk_size``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     truth = generate(tmp, n_leads=400, seed=3)
    ...     sorted(p.name for p in Path(tmp).iterdir())[:3]
    ['accounts.parquet', 'activities.parquet', 'funnel.yaml']
    >>> truth["rows"]["leads"]
    400
    """
    from funnel_models.core.funnel import Funnel

    _check(n_leads, chunk_size, file_format, seed)
    _parse_as_of(as_of)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FunnelConfigError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    sink = _FileSink(out, file_format)
    try:
        truth = _run(n_leads, seed, as_of, chunk_size, sink, show_progress)
    finally:
        sink.close()
    (out / "funnel.yaml").write_text(
        yaml.safe_dump(Funnel.default().to_dict(), sort_keys=False), encoding="utf-8"
    )
    (out / "ground_truth.json").write_text(
        json.dumps(truth, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return truth
