"""Keep connection secrets out of messages, logs, pages and command lines.

A source may be a database URL with a password (``postgresql://ann:s3cret@db/crm``) or a
libpq connection string (``host=db password=s3cret``). Anything shown to a person or written
to a log goes through :func:`redact` first.

Examples
--------
>>> from funnel_models.core.redaction import redact
>>> redact("postgresql://ann:s3cret@db:5432/crm")
'postgresql://ann:***@db:5432/crm'
>>> redact("could not read postgresql://ann:s3cret@db/crm?password=x&sslmode=require")
'could not read postgresql://ann:***@db/crm?password=***&sslmode=require'
>>> redact("/data/crm")  # paths and URLs without a password are unchanged
'/data/crm'
"""

from __future__ import annotations

import re

__all__ = ["has_secret", "redact"]

# scheme://user:password@host  (the password may hold anything but '@' and whitespace)
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)[^@\s]*@")
# password=... in a query string or a libpq key=value string
_KEY_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)=([^&\s]*)")


def redact(text: object) -> str:
    """``text`` as a string with every URL password and ``password=`` value replaced by ``***``."""
    out = _URL_PASSWORD.sub(r"\1***@", str(text))
    return _KEY_PASSWORD.sub(r"\1=***", out)


def has_secret(text: object) -> bool:
    """Whether :func:`redact` would hide something in ``text``.

    >>> has_secret("postgresql://ann:s3cret@db/crm"), has_secret("sqlite:///crm.db")
    (True, False)
    """
    return redact(text) != str(text)
