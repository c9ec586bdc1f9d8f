"""The served record: one flat JSON document per deliverable profile, and its lookup keys.

    golden fields + derived fields + scores + recent activity + consent  -> records
    profile id, canonical email keys, addresses as seen (lower-cased)    -> keys

Pure: DataFrames in, DataFrames out (the warehouse reads live in `inputs.py`). Everything is
vectorized or one pass per column, because the full build runs on every profile (1M in seconds).

Who is never served: a profile with any email key in `ops.suppressions` (erased people,
belt and braces: erasure already deleted them) or whose primary address opted out. An opted-out
secondary address is only dropped as a key: the person stays reachable at the primary one.

Keys: `lookup_key -> profile_id`. The canonical keys are staging's `email_key` (identity's
match key); the aliases are the addresses as stored, lower-cased and trimmed, mapped to the
profile of *their canonical key as identity computes it*, so the hot path can skip the key
function for any spelling already seen (see lookup.py). When one key belongs to several
profiles (a shared mailbox identity kept apart), the profile whose primary address has that
key wins, then the smallest profile id: the same data always serves the same person.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd

from profile_assets.features.derived import DERIVED_COLUMNS
from profile_assets.privacy.suppression import hash_keys

RECORD_KEY = ["source", "source_record_id"]
#: Golden fields a personalization engine needs; street addresses stay in the warehouse.
GOLDEN_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "date_of_birth",
    "city",
    "state",
    "postcode",
    "country",
    "first_seen_at",
    "sources",
)
SCORE_FIELDS = (
    "churn_score",
    "purchase_propensity",
    "expected_orders",
    "model_version",
    "scored_at",
)
CART_SOURCE = "storefront_customers"
WEB_SOURCE = "storefront_customers"
MAX_CART_LINES = 20
RECORDS_COLUMNS = ["profile_id", "etag", "record"]
KEYS_COLUMNS = ["lookup_key", "profile_id"]


@dataclass(frozen=True)
class ServingInputs:
    """What a snapshot is built from (warehouse tables, read by inputs.py)."""

    golden: pd.DataFrame  # profiles.golden_profiles
    identity_map: pd.DataFrame  # source, source_record_id, profile_id
    contacts: pd.DataFrame  # live staging.contacts: source, source_record_id, email, email_key
    orders: pd.DataFrame  # staging.orders
    carts: pd.DataFrame  # staging.carts
    web_activity: pd.DataFrame  # staging.web_activity
    cart_lines: pd.DataFrame  # cart_id, sku, quantity, unit_price (live storefront cart items)
    scores: pd.DataFrame | None  # ml.scores, None until the ML layer has written it
    suppressed_hashes: frozenset[str] = frozenset()  # ops.suppressions
    opted_out_hashes: frozenset[str] = frozenset()  # ops.email_opt_outs
    salt: str | None = None


@dataclass(frozen=True)
class SnapshotFrames:
    records: pd.DataFrame  # RECORDS_COLUMNS; `record` is the JSON document (bytes)
    keys: pd.DataFrame  # KEYS_COLUMNS


def build_snapshot_frames(inputs: ServingInputs) -> SnapshotFrames:
    """Records and keys of every deliverable profile, sorted by their primary keys."""
    members = _member_emails(inputs)
    blocked = _blocked_keys(members, inputs)
    golden = inputs.golden
    primary_blocked = golden["email_key"].isin(blocked["opted_out"])
    deliverable = ~golden["profile_id"].isin(blocked["suppressed_profiles"]) & ~primary_blocked
    golden = golden.loc[deliverable.to_numpy()].reset_index(drop=True)
    records = _records(golden, inputs)
    keys = _keys(golden, members, blocked["opted_out"])
    return SnapshotFrames(records=records, keys=keys)


# --------------------------------------------------------------------------- who is served
def _member_emails(inputs: ServingInputs) -> pd.DataFrame:
    """profile_id, email (as stored), email_key of every live member record with an address."""
    contacts = inputs.contacts[[*RECORD_KEY, "email", "email_key"]]
    members = inputs.identity_map[[*RECORD_KEY, "profile_id"]].merge(contacts, on=RECORD_KEY)
    return members.dropna(subset=["email_key"])[["profile_id", "email", "email_key"]]


def _blocked_keys(members: pd.DataFrame, inputs: ServingInputs) -> dict[str, set[str]]:
    """Profiles with a suppressed key, and the opted-out keys (one hash per distinct key)."""
    if not inputs.suppressed_hashes and not inputs.opted_out_hashes:
        return {"suppressed_profiles": set(), "opted_out": set()}
    distinct = pd.Series(pd.unique(pd.concat([members["email_key"], inputs.golden["email_key"]])))
    distinct = distinct.dropna()
    hashed = pd.Series(hash_keys(distinct, inputs.salt).to_numpy(), index=distinct.to_numpy())
    suppressed = set(hashed.index[hashed.isin(inputs.suppressed_hashes)])
    opted_out = set(hashed.index[hashed.isin(inputs.opted_out_hashes)])
    by_member = set(members.loc[members["email_key"].isin(suppressed), "profile_id"])
    by_golden = set(inputs.golden.loc[inputs.golden["email_key"].isin(suppressed), "profile_id"])
    return {"suppressed_profiles": by_member | by_golden, "opted_out": opted_out}


def _keys(golden: pd.DataFrame, members: pd.DataFrame, opted_out: set[str]) -> pd.DataFrame:
    """lookup_key -> profile_id: ids, canonical keys and seen spellings of served profiles."""
    served = golden[["profile_id", "email", "email_key"]].dropna(subset=["email_key"])
    emails = pd.concat([members[members["profile_id"].isin(golden["profile_id"])], served])
    emails = emails[~emails["email_key"].isin(opted_out)]
    aliases = _aliases(emails)
    primary = golden.set_index("profile_id")["email_key"]
    candidates = pd.concat(
        [
            emails[["email_key", "profile_id"]].rename(columns={"email_key": "lookup_key"}),
            aliases.merge(emails[["email_key", "profile_id"]].drop_duplicates(), on="email_key")[
                ["alias", "profile_id"]
            ].rename(columns={"alias": "lookup_key"}),
        ]
    ).drop_duplicates()
    contested = candidates["lookup_key"].duplicated(keep=False).to_numpy()
    ids = pd.DataFrame({"lookup_key": golden["profile_id"], "profile_id": golden["profile_id"]})
    parts = [ids, candidates[~contested], _one_owner(candidates[contested], aliases, primary)]
    keys = pd.concat(parts, ignore_index=True)[KEYS_COLUMNS]
    return keys.sort_values("lookup_key", kind="stable").reset_index(drop=True)


def _one_owner(contested: pd.DataFrame, aliases: pd.DataFrame, primary: pd.Series) -> pd.DataFrame:
    """For keys several profiles claim: the profile whose primary address has the key, then
    the smallest profile id (only these few rows are sorted)."""
    rows = contested.merge(aliases, how="left", left_on="lookup_key", right_on="alias")
    canonical = rows["email_key"].fillna(rows["lookup_key"])
    rows["primary"] = primary.reindex(rows["profile_id"]).to_numpy() == canonical.to_numpy()
    ranked = rows.sort_values(
        ["lookup_key", "primary", "profile_id"], ascending=[True, False, True], kind="stable"
    )
    return ranked.drop_duplicates("lookup_key")[KEYS_COLUMNS]


def alias_of(address: str) -> str | None:
    """The spelling under which an address is stored as an alias key: trimmed, lower-cased,
    ASCII only (for ASCII text the canonical key ignores case and outer whitespace, so the
    alias and the address share one key; other text always goes through the key function)."""
    text = address.strip().lower()
    return text if text.isascii() and "@" in text else None


def _aliases(emails: pd.DataFrame) -> pd.DataFrame:
    """alias, email_key: each distinct stored spelling and its canonical key. The key is
    staging's `email_key`, computed by identity's key function (`email_match_key`) and never
    re-derived here; a test holds `canonical_email_keys(alias) == email_key`."""
    pairs = emails[["email", "email_key"]].dropna().drop_duplicates("email")
    alias = pairs["email"].astype(str).map(alias_of)
    frame = pd.DataFrame({"alias": alias.to_numpy(), "email_key": pairs["email_key"].to_numpy()})
    return frame.dropna().drop_duplicates("alias").reset_index(drop=True)


# --------------------------------------------------------------------------- the records
def _records(golden: pd.DataFrame, inputs: ServingInputs) -> pd.DataFrame:
    profile_of = _profile_of_record(inputs.identity_map)
    columns: dict[str, list] = {"profile_id": golden["profile_id"].tolist()}
    for field in (*GOLDEN_FIELDS, *DERIVED_COLUMNS):
        columns[field] = _plain(golden[field]) if field in golden else [None] * len(golden)
    scores = _scores(golden["profile_id"], inputs.scores)
    for field in SCORE_FIELDS:
        columns[field] = _plain(scores[field])
    index = golden["profile_id"]
    columns["last_order"] = _last_order(inputs.orders, profile_of).reindex(index).tolist()
    columns["open_cart"] = _open_cart(inputs.carts, inputs.cart_lines, profile_of).reindex(index)
    columns["open_cart"] = columns["open_cart"].tolist()
    columns["last_active_date"] = _plain(
        _last_active(inputs.web_activity, profile_of).reindex(index)
    )
    columns["email_opt_out"] = [False] * len(golden)
    names = list(columns)
    documents = [
        orjson.dumps(dict(zip(names, row, strict=True)))
        for row in zip(*columns.values(), strict=True)
    ]
    return pd.DataFrame(
        {
            "profile_id": columns["profile_id"],
            "etag": [_etag(d) for d in documents],
            "record": documents,
        }  # fmt: skip
    ).sort_values("profile_id", kind="stable", ignore_index=True)


def _etag(document: bytes) -> str:
    return hashlib.blake2b(document, digest_size=8).hexdigest()


def _plain(values: pd.Series) -> list:
    """A column as JSON-ready Python values: ISO-8601 text for times (to the second, UTC),
    None for every kind of missing value. Vectorized: it runs on every column of 1M rows."""
    if pd.api.types.is_datetime64_any_dtype(values):
        naive = getattr(values.dtype, "tz", None) is None  # a date (of birth), not an instant
        utc = values if naive else values.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = utc.to_numpy(dtype="datetime64[s]")
        text = np.datetime_as_string(stamps, unit="D" if naive else "s")
        text = text if naive else np.char.add(text, "+00:00")
        return pd.Series(text, dtype=object).where(values.notna().to_numpy(), None).tolist()
    if isinstance(values.dtype, pd.ArrowDtype) or values.dtype == object:
        out = values.astype(object).where(values.notna(), None)
        return [v.isoformat() if hasattr(v, "isoformat") else v for v in out.tolist()]
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
        return values.astype(object).where(values.notna(), None).tolist()
    return [None if v != v else v for v in values.astype(float).round(6).tolist()]


def _profile_of_record(identity_map: pd.DataFrame) -> pd.DataFrame:
    return identity_map[[*RECORD_KEY, "profile_id"]].drop_duplicates(RECORD_KEY)


def _scores(profile_ids: pd.Series, scores: pd.DataFrame | None) -> pd.DataFrame:
    """The latest score row per profile, or nulls when the ML layer has not scored yet."""
    frame = pd.DataFrame({"profile_id": profile_ids})
    if scores is None or scores.empty:
        return frame.assign(**{f: None for f in SCORE_FIELDS})
    latest = scores.sort_values("scored_at", kind="stable").drop_duplicates(
        "profile_id", keep="last"
    )
    present = [f for f in SCORE_FIELDS if f in latest]
    out = frame.merge(latest[["profile_id", *present]], on="profile_id", how="left")
    return out.assign(**{f: None for f in SCORE_FIELDS if f not in present})


def _last_order(orders: pd.DataFrame, profile_of: pd.DataFrame) -> pd.Series:
    """profile_id -> its latest live order (id, time, amount, currency, status)."""
    live = orders.loc[
        ~orders["is_deleted"].fillna(False).astype(bool),
        ["customer_source", "customer_record_id", "order_id", "order_ts", "amount", "currency",
         "status"],
    ]  # fmt: skip
    live = live.rename(
        columns={"customer_source": "source", "customer_record_id": "source_record_id"}
    )
    owned = live.merge(profile_of, on=RECORD_KEY).sort_values(["order_ts", "order_id"])
    latest = owned.drop_duplicates("profile_id", keep="last")
    fields = {
        "order_id": latest["order_id"],
        "ordered_at": latest["order_ts"],
        "amount": latest["amount"],
        "currency": latest["currency"],
        "status": latest["status"],
    }
    return _documents(latest["profile_id"], fields)


def _open_cart(carts: pd.DataFrame, lines: pd.DataFrame, profile_of: pd.DataFrame) -> pd.Series:
    """profile_id -> its latest open, unconverted cart with items, and the cart's lines."""
    open_ = carts[
        (carts["status"] == "open")
        & carts["converted_order_id"].isna()
        & (carts["items"].fillna(0) > 0)
    ]
    owned = open_.assign(source=CART_SOURCE, source_record_id=open_["customer_record_id"])
    owned = owned.merge(profile_of, on=RECORD_KEY).sort_values(["updated_at", "cart_id"])
    latest = owned.drop_duplicates("profile_id", keep="last")
    fields = {
        "cart_id": latest["cart_id"],
        "item_count": latest["items"],
        "value": latest["cart_value"],
        "updated_at": latest["updated_at"],
        "lines": _cart_lines(lines, latest["cart_id"]),
    }
    return _documents(latest["profile_id"], fields)


def _cart_lines(lines: pd.DataFrame, cart_ids: pd.Series) -> pd.Series:
    """cart_id -> [{sku, quantity, unit_price}], at most MAX_CART_LINES per cart."""
    wanted = lines[lines["cart_id"].isin(cart_ids)]
    wanted = wanted.groupby("cart_id", sort=False).head(MAX_CART_LINES)
    documents = _documents(
        wanted["cart_id"],
        {"sku": wanted["sku"], "quantity": wanted["quantity"], "unit_price": wanted["unit_price"]},
        unique=False,
    )
    by_cart: dict[str, list] = {}
    for cart_id, document in zip(documents.index, documents.tolist(), strict=True):
        by_cart.setdefault(cart_id, []).append(document)
    return pd.Series([by_cart.get(c, []) for c in cart_ids], index=cart_ids.to_numpy())


def _last_active(web: pd.DataFrame, profile_of: pd.DataFrame) -> pd.Series:
    """profile_id -> the last property-local day with a session."""
    active = web[web["sessions"].fillna(0) > 0]
    owned = active.assign(source=WEB_SOURCE, source_record_id=active["customer_record_id"])
    owned = owned.merge(profile_of, on=RECORD_KEY)
    days = pd.to_datetime(owned["activity_date"].astype(str))
    last = days.groupby(owned["profile_id"].to_numpy()).max()
    return last.dt.strftime("%Y-%m-%d").astype(object)


def _documents(index: pd.Series, fields: dict[str, pd.Series], *, unique: bool = True) -> pd.Series:
    """Rows of `fields` as dicts (JSON-ready values), indexed by `index`."""
    names = list(fields)
    values = [_plain(pd.Series(s.to_numpy(), dtype=s.dtype)) for s in fields.values()]
    rows = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    out = pd.Series(rows, index=index.to_numpy(), dtype=object)
    return out if not unique else out[~out.index.duplicated(keep="last")]


def empty_cart_lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cart_id": pd.Series(dtype=object),
            "sku": pd.Series(dtype=object),
            "quantity": pd.Series(dtype="int64"),
            "unit_price": pd.Series(dtype=float),
        }  # fmt: skip
    )


def masked(record: dict) -> dict:
    """`record` with names, addresses, phone and birth date masked: for metadata and logs."""
    out = dict(record)
    for field in ("first_name", "last_name", "full_name", "phone", "postcode", "city"):
        if out.get(field):
            out[field] = str(out[field])[0] + "***"
    if out.get("email"):
        local, _, domain = str(out["email"]).partition("@")
        out["email"] = f"{local[:1]}***@{domain[:1]}***"
    if out.get("date_of_birth"):
        out["date_of_birth"] = "****-**-**"
    return out
