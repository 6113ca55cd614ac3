"""Connection strings without their passwords, in every form a user may write them.

A PostgreSQL or Redis target can carry its password in three places: the URL's user info
(``postgresql://me:pw@host/db``), a query parameter (``postgresql://me@host/db?password=pw``)
or a libpq ``key=value`` string (``host=db password='p w' dbname=app``). Everything we print,
raise or ``repr`` about a connection goes through :func:`redact_url`, and a driver's own error
text through :func:`scrub_connection_text`, which also removes the percent-decoded password.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

__all__ = ["MASK", "redact_url", "scrub_connection_text", "url_secrets"]

MASK = "***"
# query parameters / libpq keywords whose value is a credential
_SECRET_KEYS = r"(?:password|passwd|pwd|sslpassword|pass|token|secret|api_key|apikey)"
_QUERY_SECRET = re.compile(rf"(?i)([?&;]{_SECRET_KEYS}=)([^&;#]*)")
# libpq: keyword = value, value either single-quoted (with \' and \\ escapes) or bare
_DSN_SECRET = re.compile(rf"(?i)(\b{_SECRET_KEYS}\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']*)")
_USERINFO = re.compile(r"(//[^/@:]*:)[^@/]*@")


def _is_url(text: str) -> bool:
    return "://" in text.split("=", 1)[0] if "=" in text else "://" in text


def url_secrets(url: str) -> list[str]:
    """The password-like values ``url`` carries, raw and percent-decoded (raw ones first).

    >>> url_secrets("postgresql://me:s%40cret@db/app?sslpassword=k2")
    ['s%40cret', 'k2', 's@cret']
    """
    found: list[str] = []
    if _is_url(url):
        try:
            parts = urlsplit(url)
            password = parts.password
            query = parts.query
        except ValueError:
            password, query = None, ""
        if password:
            found.append(password)
        for key, value in parse_qsl(query, keep_blank_values=False):
            if re.fullmatch(_SECRET_KEYS, key, flags=re.IGNORECASE) and value:
                found.append(value)
        found.extend(m.group(2) for m in _QUERY_SECRET.finditer(url) if m.group(2))
    else:
        for match in _DSN_SECRET.finditer(url):
            value = match.group(2)
            if value.startswith("'") and value.endswith("'") and len(value) >= 2:
                found.append(value)
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            if value:
                found.append(value)
    decoded = [unquote(v) for v in found]
    unique = list(dict.fromkeys([*found, *decoded]))
    return [v for v in unique if v]


def redact_url(url: str) -> str:
    """Return ``url`` with every password in it replaced by ``***``.

    >>> redact_url("postgresql://me:s3cret@db:5432/app")
    'postgresql://me:***@db:5432/app'
    >>> redact_url("postgresql://me@db/app?sslmode=disable&password=s3cret")
    'postgresql://me@db/app?sslmode=disable&password=***'
    >>> redact_url("host=db user=me password='s3 cret' dbname=app")
    'host=db user=me password=*** dbname=app'
    >>> redact_url("redis://:s3cret@127.0.0.1:6379/0")
    'redis://:***@127.0.0.1:6379/0'
    """
    if not _is_url(url):
        return _DSN_SECRET.sub(lambda m: m.group(1) + MASK, url)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, url)
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return _USERINFO.sub(r"\1" + MASK + "@", text)
    if password is None:
        return text
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def scrub_connection_text(text: str, url: str) -> str:
    """``text`` (a driver's error message) with ``url`` redacted and its secrets masked.

    >>> scrub_connection_text("auth failed for s@cret", "postgresql://me:s%40cret@db/app")
    'auth failed for ***'
    """
    text = text.replace(url, redact_url(url))
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
