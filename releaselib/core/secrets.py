"""Secrets: values that must never reach disk.

Credentials reach kernels through the environment only. Before a notebook, a
log or ``record.json`` is archived, it is scanned for the value of every
environment variable the configuration names as a secret, and for the
password part of every URL the run knows (a token in ``https://user:TOKEN@host``);
a hit fails the phase and only a redacted copy is written.

A value is looked for in every form a file can hold it: as is, JSON-escaped
(a notebook stores ``pa"ss`` as ``pa\\"ss``), HTML-escaped, URL-encoded, and
in the decoded strings of a JSON document (which catches ``\\uXXXX`` escapes).
URLs are stored, printed and rendered only without their userinfo
(:func:`strip_userinfo`).
"""

from __future__ import annotations

import html
import json
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

REDACTED = "********"

#: Parameter names that look like credentials; such parameters are refused,
#: because papermill writes parameters into the notebook twice.
_SECRET_NAME = re.compile(r"pass(word)?|token|secret|api[_-]?key|credential", re.IGNORECASE)

# Values shorter than this are not scanned for: "1" or "x" would match everywhere.
_MIN_LENGTH = 4

# scheme://userinfo@host... anywhere in a text (git, http(s), ssh, ftp URLs).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s\"'<>]*)@")


def looks_like_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def secret_values(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{env var name: value}`` for every named variable set to a scannable value."""
    environ = os.environ if environ is None else environ
    found = {}
    for name in names:
        value = environ.get(name)
        if value and len(value) >= _MIN_LENGTH:
            found[name] = value
    return found


def missing_secrets(names: Iterable[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The declared secret variables that are not set here, so nothing can be scanned for them."""
    environ = os.environ if environ is None else environ
    return [name for name in names if not environ.get(name)]


# -- URLs -------------------------------------------------------------------
def strip_userinfo(text: str) -> str:
    """``text`` with the ``user:password@`` part of every URL in it removed.

    ``https://user:TOKEN@host/repo.git`` becomes ``https://host/repo.git``;
    ``ssh://git@host/x`` keeps no user either (a user name is not a secret,
    but the rule is simpler to check when no userinfo is ever kept).
    """
    return _URL_USERINFO.sub(lambda match: match.group("scheme"), text)


def url_credentials(url: str | None) -> tuple[str, str | None, str | None]:
    """``(url without userinfo, user, password)``; user and password are decoded, None when absent."""
    if not url:
        return url or "", None, None
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return (clean, urllib.parse.unquote(user) or None, urllib.parse.unquote(password) if sep else None)


def url_secrets(urls: Mapping[str, str | None]) -> dict[str, str]:
    """``{"password in <label>": password}`` for every URL of ``urls`` that carries one."""
    found = {}
    for label, url in urls.items():
        _, _, password = url_credentials(url)
        if password and len(password) >= _MIN_LENGTH:
            found[f"the password in the {label}"] = password
    return found


def strip_userinfo_deep(value: Any) -> Any:
    """``value`` (JSON-like) with :func:`strip_userinfo` applied to every string in it."""
    if isinstance(value, str):
        return strip_userinfo(value)
    if isinstance(value, list):
        return [strip_userinfo_deep(item) for item in value]
    if isinstance(value, dict):
        return {key: strip_userinfo_deep(item) for key, item in value.items()}
    return value


# -- scanning ---------------------------------------------------------------
def forms(value: str) -> set[str]:
    """Every form ``value`` may take in a file the run writes."""
    found = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        html.escape(value, quote=False),
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value, safe=""),
        urllib.parse.quote(value),
    }
    return {form for form in found if form}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)


def find_secrets(text: str, secrets: Mapping[str, str]) -> list[str]:
    """The names of the secrets whose values occur in ``text``, in any of their :func:`forms`.

    When ``text`` is a JSON document (a notebook, record.json) its decoded
    strings are scanned as well, so an escape the encoder chose is no hiding place.
    """
    decoded: list[str] = []
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            decoded = list(_strings(json.loads(text)))
        except ValueError:
            decoded = []
    found = []
    for name, value in secrets.items():
        if not value:
            continue
        if any(form in text for form in forms(value)) or any(value in string for string in decoded):
            found.append(name)
    return found


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """``text`` with every form of every secret replaced by :data:`REDACTED`.

    For a JSON document whose decoded strings still hold a secret (an escape
    :func:`forms` does not list), the document is decoded, redacted and encoded again.
    """
    all_forms = {form for value in secrets.values() if value for form in forms(value)}
    for form in sorted(all_forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    if find_secrets(text, secrets):
        try:
            data = json.loads(text)
        except ValueError:
            return text
        text = json.dumps(_redact_deep(data, secrets), indent=1, ensure_ascii=False) + "\n"
    return text


def _redact_deep(value: Any, secrets: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for secret in sorted((s for s in secrets.values() if s), key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, list):
        return [_redact_deep(item, secrets) for item in value]
    if isinstance(value, dict):
        return {_redact_deep(key, secrets): _redact_deep(item, secrets) for key, item in value.items()}
    return value


def redact_deep(value: Any, secrets: Mapping[str, str]) -> Any:
    """``value`` (JSON-like) with every secret in its strings replaced by :data:`REDACTED`."""
    return _redact_deep(value, secrets)


def environment_secrets(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secrets a command that has no configuration still knows: the default credential
    variables and every variable whose name looks like a credential (``*_TOKEN``, ``*_PASSWORD``...)."""
    from releaselib.core.config_types import AnnounceConfig, PublishConfig

    environ = os.environ if environ is None else environ
    names = [PublishConfig().password_env, AnnounceConfig().password_env,
             *(name for name in environ if looks_like_secret_name(name))]
    return secret_values(dict.fromkeys(names), environ)


def scrubbed(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every :func:`environment_secrets` value redacted, in every form: for pages
    derived from a record (the report), which must never put a secret on disk either."""
    known = environment_secrets(environ)
    return redact(text, known) if known and find_secrets(text, known) else text


def known_secrets(config: Any, *, remote_url: str | None = None,
                  environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every secret a run of ``config`` knows: the declared variables' values and the passwords in its URLs."""
    found = secret_values(config.secret_env_names(), environ)
    found.update(url_secrets({
        "remote URL": remote_url,
        "index URL": getattr(config.publish, "index_url", None),
        "upload URL": getattr(config.publish, "repository_url", None),
        "docs URL": getattr(getattr(config, "docs_check", None), "url", None),
    }))
    return found


def parameter_secrets(parameters: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
    """The parameter names that look like credentials or whose values contain a known secret."""
    return [
        name for name, value in parameters.items()
        if looks_like_secret_name(name) or find_secrets(str(value), secrets)
    ]
