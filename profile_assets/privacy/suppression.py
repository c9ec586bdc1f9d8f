"""Suppression of erased people: a one-way key that stops their profile coming back.

After an erasure we must not keep the address, yet the next extract will bring the person's
records back from the source systems. `ops.suppressions` keeps salted SHA-256 hashes of
- the canonical email keys of the person (the key identity matching uses, so
  "J.Doe+news@gmail.com" and "jdoe@gmail.com" are one suppression): a new record with the
  address in any system is dropped;
- their source record keys ("record:<source>:<id>"): the same source rows, re-extracted, are
  dropped even when they carry no address (a phone-only help-desk user).
Staging and identity drop every record whose keys hash to a suppressed value. Without the
salt the hashes cannot be tested against a list of known addresses.

The salt comes from PROFILE_ASSETS_SUPPRESSION_SALT. The default below is for local
development and tests only: production must set its own secret, and must never change it
(changing the salt silently lifts every suppression).
"""

from __future__ import annotations

import hashlib
import os

import pandas as pd

from profile_assets.normalizers import email_match_key, normalize_email

SUPPRESSIONS_TABLE = "ops.suppressions"
SALT_ENV = "PROFILE_ASSETS_SUPPRESSION_SALT"
DEV_SALT = "profile-assets-dev-salt-not-for-production"


def suppression_salt() -> str:
    """The salt from PROFILE_ASSETS_SUPPRESSION_SALT, else the documented dev default."""
    return os.environ.get(SALT_ENV) or DEV_SALT


def canonical_email_keys(emails: pd.Series) -> pd.Series:
    """The match key of each address as staging computes `email_key` (None if unusable)."""
    normalized = normalize_email(emails.astype(object))["email"]
    return email_match_key(normalized)


def hash_keys(keys: pd.Series, salt: str | None = None) -> pd.Series:
    """Salted SHA-256 (hex) of each key; None stays None."""
    salt = suppression_salt() if salt is None else salt
    return keys.map(
        lambda key: hashlib.sha256(f"{salt}:{key}".encode()).hexdigest(), na_action="ignore"
    )


def email_suppression_hash(email: str, salt: str | None = None) -> str:
    key = canonical_email_keys(pd.Series([email])).iloc[0]
    if key is None or key != key:
        raise ValueError("not an email address")
    return str(hash_keys(pd.Series([key]), salt).iloc[0])


def contact_keys(contacts: pd.DataFrame) -> pd.Series:
    """Each contact's email key; for addresses staging judged invalid (no `email_key`), the
    key of the address as written, so a typo'd copy is suppressed too."""
    key = contacts["email_key"].astype(object).copy()
    missing = key.isna() & contacts["email"].notna()
    if missing.any():
        key[missing] = email_match_key(contacts.loc[missing, "email"].astype(object)).to_numpy()
    return key


def record_keys(contacts: pd.DataFrame) -> pd.Series:
    """Each contact's source record key, as suppressed: "record:<source>:<source_record_id>"."""
    source, record_id = contacts["source"].astype(str), contacts["source_record_id"].astype(str)
    return "record:" + source + ":" + record_id


def filter_suppressed(
    contacts_df: pd.DataFrame, suppressions_df: pd.DataFrame | None, salt: str | None = None
) -> pd.DataFrame:
    """`contacts_df` (staging.contacts rows: `source`, `source_record_id`, `email`,
    `email_key`) without the records of erased people.

    `suppressions_df`: rows of ops.suppressions (`suppression_hash`). Call it wherever person
    records enter the warehouse's derived layers (staging.contacts, identity).
    """
    if suppressions_df is None or suppressions_df.empty or contacts_df.empty:
        return contacts_df
    suppressed_hashes = set(suppressions_df["suppression_hash"])
    by_email = hash_keys(contact_keys(contacts_df), salt).isin(suppressed_hashes)
    by_record = hash_keys(record_keys(contacts_df), salt).isin(suppressed_hashes)
    return contacts_df[~(by_email | by_record).to_numpy()]
