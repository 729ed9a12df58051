"""Which columns hold personal data: names, emails, phones, addresses, birth dates, ids.

A lead scorer must not learn that "first_name = Sofia raises the score", and an
executive page has no business showing a contact's phone number. This module
says which columns look personal, and why, so models leave them out of their
features by default and views can leave them out of what they show.

A column is personal when its **name** or its **content** says so:

===================  =====================================================  ==========================
kind                 by name (words of the column name, any case or style)   by content (share of values)
===================  =====================================================  ==========================
name                 first/last/full/given/family/middle name, surname,      ≥ 80 % of distinct texts are 1–3
                     ``name`` alone or with a person word (contact, lead,    capitalised words with no company
                     customer, client, user, owner, agent, ...); not when    word (Ltd, GmbH, Inc, ...), and
                     ≥ 20 % of the values are companies ("Acme GmbH")        ≥ 25 % (≥ 3) start with a common
                                                                             given name
email                email, e-mail, mail (not counts such as email_opens)    ≥ 50 % look like addresses
phone                phone, mobile, telephone, tel, fax, cell                ≥ 50 % look like phone numbers
address              address, street, zip, postcode, postal code             ≥ 50 % look like street addresses
birth date           birth, birthday, date of birth, dob                     —
identity number      ssn, social security, passport, national id, iban,      —
                     credit card, driver's licence
online identifier    ip address                                              —
===================  =====================================================  ==========================

False friends stay out: ``lead_source``, ``company_size``, ``account_name``,
``campaign_name``, ``email_opens``, industries such as "Consumer Electronics",
regions such as "North America", team names such as "SDR South", and ids, dates
and amounts (a phone number has 7–15 digits in at least two groups or a leading
``+``, and is not a date or a plain number). Names of staff (a ``sales_agent``
column of people's names) are personal data too: the detector flags them like
any other names. The given names come from a built-in list of about 900
(:mod:`funnel_models.core._given_names`).

Examples
--------
>>> import pandas as pd
>>> from funnel_models.core.privacy import find_personal_data
>>> leads = pd.DataFrame({
...     "First Name": ["Ada", "Bob", "Cy"],
...     "contact": ["ada@example.com", "bob@example.org", "cy@example.net"],
...     "lead_source": ["web", "fair", "web"],
...     "company_size": ["SMB", "Mid", "SMB"]})
>>> screen = find_personal_data(leads)
>>> screen.loc[screen["personal"], "kind"].to_dict()
{'First Name': 'name', 'contact': 'email'}
>>> screen.loc["contact", "reason"]
'all 3 distinct values look like email addresses'
"""

from __future__ import annotations

import re

import pandas as pd

from funnel_models.core._given_names import GIVEN_NAMES

__all__ = ["PERSONAL_KINDS", "find_personal_data"]

PERSONAL_KINDS = (
    "name",
    "email",
    "phone",
    "address",
    "birth date",
    "identity number",
    "online identifier",
)

#: share of a column's distinct values that must look personal
CONTENT_SHARE = 0.5

# ----------------------------------------------------------------------------- by name
_PERSON_WORDS = {
    "contact", "person", "lead", "customer", "client", "user", "owner", "rep", "agent",
    "sdr", "ae", "manager", "employee", "buyer", "display", "first", "last", "full", "given",
    "family", "middle", "maiden", "nick", "preferred", "legal", "sur", "fore",
}  # fmt: skip
_NAME_WORDS = {
    "firstname", "lastname", "fullname", "surname", "givenname", "familyname", "forename",
    "middlename", "maidenname", "nickname", "vorname", "nachname", "prenom", "nombre",
    "apellido", "cognome",
}  # fmt: skip
_EMAIL_COUNTS = {
    "open", "opens", "opened", "click", "clicks", "clicked", "sent", "count", "bounce",
    "bounced", "optin", "opt", "optout", "consent", "subscribed", "unsubscribed", "campaign",
    "template", "domain", "rate", "reply", "replies", "replied", "activity", "activities",
}  # fmt: skip
_PHONE_WORDS = {"phone", "telephone", "tel", "mobile", "cell", "cellphone", "fax", "whatsapp"}
_ADDRESS_WORDS = {"address", "addr", "street", "zip", "zipcode", "postcode", "postal", "plz"}
_BIRTH_WORDS = {"birth", "birthday", "birthdate", "dob", "dateofbirth"}
_ID_WORDS = {
    "ssn", "passport", "socialsecurity", "nationalid", "iban", "creditcard", "cardnumber",
    "driverslicense", "driverslicence", "licensenumber", "taxpayer",
}  # fmt: skip


def _words(column: str) -> list[str]:
    """Lower-case words of a column name: 'FirstName', 'first_name' and 'First Name' alike."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(column))
    return [w for w in re.split(r"[^0-9a-z]+", spaced.casefold()) if w]


def _by_name(column: str) -> tuple[str, str] | None:
    """(kind, what the name says) when the column name names personal data."""
    words = _words(column)
    squashed = "".join(words)
    pairs = {a + b for a, b in zip(words, words[1:], strict=False)}
    every = set(words) | pairs
    if ("ip" in words and "address" in words) or "ipaddress" in every:
        return "online identifier", "an IP address"
    if every & {"email", "mail", "emailaddress"} and not set(words) & _EMAIL_COUNTS:
        return "email", "an email address"
    if every & _PHONE_WORDS or "phone" in squashed:
        return "phone", "a phone number"
    if every & _NAME_WORDS:
        return "name", "a person's name"
    if "name" in words and set(words) - {"name"} <= _PERSON_WORDS:
        return "name", "a person's name"
    if every & _BIRTH_WORDS or {"date", "of", "birth"} <= set(words):
        return "birth date", "a date of birth"
    if every & _ID_WORDS or ({"national", "id"} <= set(words)):
        return "identity number", "an identity or account number"
    if every & _ADDRESS_WORDS or {"postal", "code"} <= set(words):
        return "address", "a postal address"
    return None


# ----------------------------------------------------------------------------- by content
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]+$")
_DATE_LIKE = re.compile(
    r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T].*)?$"
)
_NUMBER_LIKE = re.compile(r"^[-+]?\d+([.,]\d+)?([eE][-+]?\d+)?$")
_STREET_WORDS = (
    r"street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl"
    r"|square|sq|terrace|parkway|pkwy|highway|hwy"
)
_STREET = re.compile(
    rf"(^\d+[a-zA-Z]?,?\s+(\S+\s+){{0,4}}({_STREET_WORDS})\.?\b)"
    r"|(\w(straße|strasse|weg|gasse|platz|allee|laan|gatan|vej|veien)\s+\d+)"
    r"|(^(rue|avenue|boulevard|calle|avenida|rua|via|piazza|corso|viale)\s+\S+)",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(r"^[A-ZÀ-Þ][a-zß-ÿ]+(?:[-'][A-ZÀ-Þa-zß-ÿ][a-zß-ÿ]+)*\.?$")
_NOT_PEOPLE = {
    "inc", "corp", "corporation", "ltd", "llc", "gmbh", "ag", "sa", "sas", "bv", "nv", "plc",
    "co", "company", "group", "holding", "holdings", "systems", "solutions", "technologies",
    "industries", "international", "services", "partners", "bank", "university", "team",
}  # fmt: skip


def _is_phone(value: str) -> bool:
    if not _PHONE_CHARS.match(value) or _DATE_LIKE.match(value) or _NUMBER_LIKE.match(value):
        return False
    digits = sum(ch.isdigit() for ch in value)
    grouped = len(re.findall(r"\d+", value)) >= 2 or value.startswith(("+", "("))
    return 7 <= digits <= 15 and grouped


def _name_shaped(value: str) -> bool:
    """One to three capitalised words and no organisation word: 'Ada', 'Anna Snelling'."""
    tokens = value.split()
    return (
        1 <= len(tokens) <= 3
        and all(_NAME_TOKEN.match(t) for t in tokens)
        and not _is_organisation(value)
    )


def _is_organisation(value: str) -> bool:
    return any(re.sub(r"[^a-z]", "", t.casefold()) in _NOT_PEOPLE for t in value.split())


def _looks_like_names(texts: list[str]) -> str | None:
    """People's names: ≥ 80 % name-shaped, and ≥ 25 % (at least 3) start with a given name."""
    shaped = [t for t in texts if _name_shaped(t)]
    given = sum(t.split()[0].casefold() in GIVEN_NAMES for t in shaped)
    if len(shaped) >= 0.8 * len(texts) and given >= 3 and given >= 0.25 * len(texts):
        return (
            f"{_share(len(shaped), len(texts))} distinct values are shaped like people's names "
            f"({given:,} start with a common given name)"
        )
    return None


def _share(hits: int, total: int) -> str:
    return f"all {total:,}" if hits == total else f"{hits:,} of {total:,} ({hits / total:.0%})"


_CONTENT_TESTS = (
    ("email", "email addresses", lambda v: bool(_EMAIL.match(v))),
    ("phone", "phone numbers", _is_phone),
    ("address", "street addresses", lambda v: bool(_STREET.search(v))),
)


def _distinct_texts(values: pd.Series, max_values: int) -> list[str]:
    """Up to ``max_values`` distinct non-empty texts of a text column, most frequent first."""
    if values.dtype.kind in "biufcmM" or isinstance(
        values.dtype, (pd.DatetimeTZDtype, pd.BooleanDtype)
    ):
        return []
    counts = values.dropna().astype(str).str.strip().value_counts()
    return [v for v in counts.index[:max_values] if v]


def _by_content(texts: list[str]) -> tuple[str, str] | None:
    if not texts:
        return None
    for kind, what, test in _CONTENT_TESTS:
        hits = sum(test(t) for t in texts)
        if hits and hits >= CONTENT_SHARE * len(texts):
            return kind, f"{_share(hits, len(texts))} distinct values look like {what}"
    names = _looks_like_names(texts)
    return ("name", names) if names else None


def find_personal_data(frame: pd.DataFrame, *, max_values: int = 2000) -> pd.DataFrame:
    """Screen every column of ``frame`` for personal data; one row per column.

    Parameters
    ----------
    frame : DataFrame
        Any table: lead attributes, a flat CRM export, a model's feature table.
    max_values : int
        The content rules look at up to this many distinct values per column
        (the most frequent ones).

    Returns
    -------
    DataFrame indexed by ``column`` with ``personal`` (bool), ``kind`` (one of
    :data:`PERSONAL_KINDS`, empty when not personal) and ``reason`` (what the
    name or the content showed, empty when not personal). The content decides
    the kind when name and content disagree (a ``contact`` column of emails is
    an ``email`` column).

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.core.privacy import find_personal_data
    >>> t = pd.DataFrame({"sales_agent": ["Anna Snelling", "Moses Frase", "Violet Mclelland"],
    ...                   "industry": ["Consumer Electronics", "Medical Devices", "Retail"]})
    >>> find_personal_data(t)["personal"].to_dict()
    {'sales_agent': True, 'industry': False}
    """
    rows = []
    for col in frame.columns:
        texts = _distinct_texts(frame[col], max_values)
        named = _by_name(col)
        seen = _by_content(texts)
        reasons = []
        if named:
            orgs = sum(_is_organisation(t) for t in texts)
            if named[0] == "name" and not seen and orgs and orgs >= 0.2 * len(texts):
                named = None  # a bare "name" column of companies ("Vector Controls AB")
            else:
                reasons.append(f"its name says {named[1]}")
        if seen:
            reasons.append(seen[1])
        kind = seen[0] if seen else named[0] if named else ""
        rows.append(
            {"column": col, "personal": bool(kind), "kind": kind, "reason": "; ".join(reasons)}
        )
    out = pd.DataFrame(rows, columns=["column", "personal", "kind", "reason"])
    out["personal"] = out["personal"].astype(bool)
    return out.set_index("column")
