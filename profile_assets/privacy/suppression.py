"""Suppression of erased people: a one-way key that stops their profile coming back.

After an erasure we must not keep the address, yet the next extract will bring the person's
records back from the source systems. `ops.suppressions` keeps salted SHA-256 hashes of
- the person's email match keys (the key identity matching uses, so "J.Doe+news@gmail.com"
  and "jdoe@gmail.com" are one suppression) and mailbox keys (the match key without any
  "+tag", whatever the provider: "x+news@miller.net" reaches x@miller.net's mailbox too):
  a new record with the address in any system is dropped;
- their source record keys ("record:<source>:<id>"): the same source rows, re-extracted, are
  dropped even when they carry no address (a phone-only help-desk user); and the record keys
  of their erased orders and carts, whose items name nothing else.
`suppressed_mask` is the one test every boundary applies, with the columns the personal-data
registry (`schemas/personal_data.yaml`) names for the table: REST, CDC and file loads drop a
suppressed person's records on arrival, the quarantine never stores their payloads, staging
and identity drop them from every table. Without the salt the hashes cannot be tested
against a list of known addresses.

The salt comes from PROFILE_ASSETS_SUPPRESSION_SALT. The default below is for local
development and tests only: production must set its own secret, and must never change it
(changing the salt silently lifts every suppression).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from profile_assets.normalizers import email_match_key, normalize_email

if TYPE_CHECKING:  # the warehouse module pulls in Dagster; only the annotation needs it
    from profile_assets.warehouse import WarehouseConnection

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


def mailbox_keys(email_keys: pd.Series) -> pd.Series:
    """The match key with any "+tag" removed, whatever the provider: the loosest reading of
    "the same mailbox" (most providers deliver x+tag@ to x@), used to find and suppress a
    person, never to match two records."""
    if email_keys.empty:
        return email_keys.astype(object)
    return email_match_key(email_keys.astype(object)).str.replace(r"\+[^@]*@", "@", regex=True)


def address_keys(emails: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(match key, mailbox key) of each address (None where there is none)."""
    strict = pd.Series(None, index=emails.index, dtype=object)
    mailbox = strict.copy()
    present = emails.notna() & emails.astype(str).str.contains("@", regex=False)
    if present.any():
        keys = canonical_email_keys(emails[present].reset_index(drop=True))
        strict[present] = keys.to_numpy()
        mailbox[present] = mailbox_keys(keys).to_numpy()
    return strict, mailbox


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


def record_key(source: str, record_id: object) -> str:
    return f"record:{source}:{_id_text(pd.Series([record_id])).iloc[0]}"


def record_keys(contacts: pd.DataFrame) -> pd.Series:
    """Each contact's source record key, as suppressed: "record:<source>:<source_record_id>"."""
    source = contacts["source"].astype(str)
    return "record:" + source + ":" + _id_text(contacts["source_record_id"]).astype(str)


def suppression_rows(
    keys: list[str], *, reason: str, run_id: str, salt: str | None = None
) -> pd.DataFrame:
    """Rows of ops.suppressions for `keys` (merge them on `suppression_hash`)."""
    return pd.DataFrame(
        {
            "suppression_hash": hash_keys(pd.Series(keys, dtype=object), salt).to_numpy(),
            "reason": reason,
            "run_id": run_id,
            "created_at": pd.Timestamp.now(tz="UTC"),
        }
    )


# --------------------------------------------------------------------------- on arrival
@dataclass(frozen=True)
class Suppressions:
    """The suppressed hashes (ops.suppressions) and the salt they were made with."""

    hashes: frozenset[str] = frozenset()
    salt: str | None = None

    @classmethod
    def load(cls, conn: WarehouseConnection, salt: str | None = None) -> Suppressions:
        if not conn.table_exists(SUPPRESSIONS_TABLE):
            return cls(frozenset(), salt)
        df = conn.query_df(f"SELECT suppression_hash FROM {SUPPRESSIONS_TABLE}")
        return cls(frozenset(df["suppression_hash"].dropna().astype(str)), salt)

    @classmethod
    def of(cls, frame: pd.DataFrame | None, salt: str | None = None) -> Suppressions:
        """From rows of ops.suppressions (or None)."""
        if frame is None or frame.empty:
            return cls(frozenset(), salt)
        return cls(frozenset(frame["suppression_hash"].dropna().astype(str)), salt)

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def hit(self, keys: pd.Series) -> pd.Series:
        """Which keys are suppressed (None: no)."""
        return hash_keys(keys.astype(object), self.salt).isin(self.hashes).astype(bool)

    def with_keys(self, keys: list[str]) -> Suppressions:
        hashed = hash_keys(pd.Series(keys, dtype=object), self.salt).dropna()
        return Suppressions(self.hashes | frozenset(hashed), self.salt)


@dataclass(frozen=True)
class RecordColumn:
    """A column naming a person-linked record: ids of `source` (or of the source named per
    row in `source_column`); `many`: a JSON array (or list) of ids."""

    column: str
    source: str | None = None
    source_column: str | None = None
    many: bool = False


def suppressed_mask(
    frame: pd.DataFrame,
    suppressions: Suppressions,
    *,
    email_columns: tuple[str, ...] = (),
    record_columns: tuple[RecordColumn, ...] = (),
) -> pd.Series:
    """True for each row of `frame` that belongs to a suppressed person: an address in
    `email_columns` reaching a suppressed mailbox, or an id in `record_columns` whose record
    key is suppressed. The one test every boundary (raw loads, quarantine, staging,
    identity) applies; columns the frame lacks are skipped."""
    mask = pd.Series(False, index=frame.index)
    if not suppressions or frame.empty:
        return mask
    for column in email_columns:
        if column in frame.columns:
            for keys in address_keys(frame[column]):
                mask |= suppressions.hit(keys).to_numpy()
    for ref in record_columns:
        if ref.column not in frame.columns:
            continue
        if ref.source_column is not None and ref.source_column not in frame.columns:
            continue
        source = frame[ref.source_column].astype(str) if ref.source_column else ref.source
        ids = frame[ref.column]
        if ref.many:
            listed = pd.DataFrame({"id": ids.map(_id_list), "source": source}).explode("id")
            listed = listed[listed["id"].notna()]
            if listed.empty:
                continue
            keys = "record:" + listed["source"].astype(str) + ":" + listed["id"].astype(str)
            hit = suppressions.hit(keys).groupby(level=0).any()
            mask |= hit.reindex(frame.index, fill_value=False).to_numpy()
        else:
            text = _id_text(ids)
            keys = "record:" + pd.Series(source, index=frame.index).astype(str) + ":" + text
            mask |= suppressions.hit(keys.where(text.notna())).to_numpy()
    return mask


def suppressed_payload(payload: object, source: str, suppressions: Suppressions) -> bool:
    """Whether a quarantined payload (a raw record, any shape) belongs to a suppressed
    person: any string in it that is a suppressed address, or its `id`/`*_ref`/`*_id` fields
    naming a suppressed record of `source`."""
    if not suppressions:
        return False
    emails: list[str] = []
    ids: list[str] = []
    _walk(payload, emails, ids)
    if emails and any(
        suppressions.hit(keys).any() for keys in address_keys(pd.Series(emails, dtype=object))
    ):
        return True
    return bool(ids) and bool(
        suppressions.hit(pd.Series([f"record:{source}:{i}" for i in ids], dtype=object)).any()
    )


_EMAIL_TOKEN = re.compile(r"[^\s,;|\t\"'<>()\[\]{}]+@[^\s,;|\t\"'<>()\[\]{}]+")


def _walk(value: object, emails: list[str], ids: list[str], key: str = "") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, emails, ids, str(k).lower())
    elif isinstance(value, list | tuple):
        for v in value:
            _walk(v, emails, ids, key)
    elif isinstance(value, str) and "@" in value:
        emails += _EMAIL_TOKEN.findall(value)  # an address, or a line of text holding some
    elif value is not None and (key == "id" or key.endswith(("_ref", "_id", " ref", " id"))):
        ids.append(_id_text(pd.Series([value])).iloc[0])


def _id_text(ids: pd.Series) -> pd.Series:
    """Ids as the text record keys use: 7, 7.0 and "7" are all "7"; None stays None."""

    def one(value: object) -> object:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return None
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    return ids.astype(object).map(one).astype(object)


def _id_list(value: object) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value if v is not None]
    return []


def filter_suppressed(
    contacts_df: pd.DataFrame, suppressions_df: pd.DataFrame | None, salt: str | None = None
) -> pd.DataFrame:
    """`contacts_df` (staging.contacts rows: `source`, `source_record_id`, `email`,
    `email_key`) without the records of erased people.

    `suppressions_df`: rows of ops.suppressions (`suppression_hash`). Call it wherever person
    records enter the warehouse's derived layers (staging.contacts, identity).
    """
    return contacts_df[
        ~suppressed_mask(
            contacts_df,
            Suppressions.of(suppressions_df, salt),
            email_columns=("email", "email_key"),
            record_columns=CONTACT_RECORDS,
        ).to_numpy()
    ]


CONTACT_RECORDS = (RecordColumn("source_record_id", source_column="source"),)
