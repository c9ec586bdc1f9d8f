"""Email addresses: validation, normalization and the canonical match key identity uses.

Emails skip email-validator when a conservative vectorized pattern already proves them valid.
"""

from __future__ import annotations

import re

import email_validator
import numpy as np
import pandas as pd

from profile_assets.normalizers.text import clean_text, map_unique, to_object

# Dot-atom local part and LDH domain labels with an alphabetic TLD: a strict subset of what
# email-validator accepts, so a match is valid without calling it (tests hold the two equal).
_SIMPLE_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_SPECIAL_USE_DOMAINS = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def _validate_email(address: str) -> tuple[str, bool, str | None]:
    """email-validator on one address: (normalized, valid, reason)."""
    try:
        result = email_validator.validate_email(
            address, check_deliverability=False, allow_quoted_local=True
        )
    except email_validator.EmailNotValidError as exc:
        local, at, domain = address.rpartition("@")
        return (f"{local}@{domain.lower()}" if at else address), False, str(exc)
    return result.normalized, True, None


def _clean_email(emails: pd.Series) -> pd.Series:
    return clean_text(emails).str.replace(r"(@[^@]+?)\.+$", r"\1", regex=True)


def normalize_email(emails: pd.Series) -> pd.DataFrame:
    """Trim, NFKC, lowercase the domain and validate the syntax (no DNS).

    Returns columns `email` (normalized; invalid addresses kept, domain lowercased),
    `email_valid` (nullable boolean: <NA> when there is no address) and `email_reason`
    (why an address is invalid). IDN domains come back in Unicode form whether written in
    Unicode or punycode, as email-validator normalizes them; quoted local parts are accepted.
    A trailing dot after the domain ("bob@example.com.", the DNS root) is dropped.
    """
    text = _clean_email(emails)
    parts = text.str.rpartition("@")
    local, domain = parts[0], parts[2].str.lower()
    simple = (
        text.str.fullmatch(_SIMPLE_EMAIL.pattern).fillna(False).astype(bool)
        & (local.str.len() <= 64)
        & (text.str.len() <= 254)
        & ~domain.str.contains("--", regex=False).fillna(False).astype(bool)
        & ~_ends_with_any(domain, _SPECIAL_USE_DOMAINS)
    )
    out = pd.DataFrame(
        {
            "email": to_object((local + "@" + domain).where(simple)),
            "email_valid": pd.array(np.where(simple, True, pd.NA), dtype="boolean"),
            "email_reason": pd.Series(None, index=text.index, dtype=object),
        }
    )
    hard = text.notna() & ~simple
    if hard.any():
        checked = map_unique(text[hard], _validate_email)
        out.loc[hard, "email"] = checked.str[0]
        out.loc[hard, "email_valid"] = checked.str[1].astype(bool).to_numpy()
        out.loc[hard, "email_reason"] = checked.str[2]
    out["email_reason"] = to_object(out["email_reason"])
    return out


def _ends_with_any(domain: pd.Series, suffixes: tuple[str, ...]) -> pd.Series:
    hit = domain.isin(suffixes) | domain.str.endswith(tuple("." + s for s in suffixes))
    return hit.fillna(False).astype(bool)


# Providers that deliver "a.b+news@" to "ab@": gmail ignores dots and +tags; these others
# only +tags. Elsewhere a "+" or "." may be part of a distinct mailbox, so it is kept.
_DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}
_DOTS_IGNORED = frozenset({"gmail.com"})
_PLUS_TAGS_IGNORED = frozenset(
    {"gmail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "icloud.com", "me.com",
     "mac.com", "fastmail.com", "protonmail.com", "proton.me", "pm.me"}
)  # fmt: skip


def _ascii_domain(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def email_match_key(emails: pd.Series) -> pd.Series:
    """A key that is equal for addresses reaching the same mailbox; never replaces the address.

    Case-folded whole address, domain in ASCII (punycode) form, googlemail.com read as
    gmail.com, then dots (gmail) and "+tag" suffixes (the providers in _PLUS_TAGS_IGNORED)
    removed. Values without exactly one usable "@" give <NA>.
    """
    text = _clean_email(emails).str.lower()
    parts = text.str.rpartition("@")
    local, domain = parts[0], parts[2]
    usable = text.notna() & (local != "") & (domain != "") & ~local.str.contains("@", regex=False)
    domain = map_unique(domain.where(usable), lambda d: _DOMAIN_ALIASES.get(d, _ascii_domain(d)))
    local = local.mask(domain.isin(_DOTS_IGNORED), local.str.replace(".", "", regex=False))
    local = local.mask(domain.isin(_PLUS_TAGS_IGNORED), local.str.replace(r"\+.*$", "", regex=True))
    return to_object((local + "@" + domain.astype("string")).where(usable))
