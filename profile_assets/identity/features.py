"""Person records -> integer-coded match keys, the only form the rest of the engine sees.

Every field becomes `codes` (int64 per record, -1 = missing) over `values` (its distinct
normalized strings). Codes make exact agreement an integer comparison, blocking a sort, and
term frequencies a bincount; fuzzy scoring runs once per distinct pair of values, not per pair
of records. Normalization runs once per distinct raw value for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import phonenumbers

from profile_assets.identity import _keys
from profile_assets.staging import normalize

PERSON_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "date_of_birth",
    "address_line1",
    "address_line2",
    "city",
    "postcode",
    "state",
    "country",
)
#: Optional cross-system identifier: records with the same link id are the same account
#: (e.g. a storefront customer and the CRM contact holding its `storefront_customer_id`).
LINK_FIELD = "link_id"
KEY_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class CodedField:
    codes: np.ndarray
    values: np.ndarray

    def strings(self, codes: np.ndarray) -> np.ndarray:
        """Values for `codes` (which must not be -1)."""
        return self.values[codes]


@dataclass(frozen=True)
class Features:
    """Match keys of n records; `record_keys` are "source<US>record_id" strings."""

    record_keys: np.ndarray
    fields: dict[str, CodedField]

    @property
    def n(self) -> int:
        return len(self.record_keys)


def record_keys(sources: pd.Series, record_ids: pd.Series) -> np.ndarray:
    return (sources.astype(str) + KEY_SEPARATOR + record_ids.astype(str)).to_numpy(dtype=object)


def build_features(records: pd.DataFrame) -> Features:
    """Match keys for canonical person records (`source`, `record_id` and any person fields)."""
    col = _column_getter(records)
    first, last = _names(col("first_name"), col("last_name"), col("full_name"))
    names = _coded_pair(first, last)
    country = normalize.normalize_country(col("country"))
    email = _coded(normalize.email_match_key(col("email")))
    first_ph, last_ph = normalize.name_phonetic_key(first), normalize.name_phonetic_key(last)
    fields = {
        "email": email,
        "email_local": _derived(email, _email_local),
        "email_domain": _derived(email, lambda key: key.rpartition("@")[2]),
        "phone": _coded(_phones(col("phone"))),
        "link_id": _coded(_per_value(col(LINK_FIELD), _strip)),
        "first_name": names[0],
        "last_name": names[1],
        "first_ph": _coded(first_ph),
        "last_ph": _coded(last_ph),
        "names_ph": _coded(_unordered(first_ph, last_ph)),
        "dob": _coded(_dates(col("date_of_birth"))),
        "postcode": _coded(_postcodes(col("postcode"), country)),
        "city": _coded(_per_value(col("city"), normalize.fold_key)),
        "address": _coded(_per_value(col("address_line1"), _keys.clean_address)),
    }
    keys = record_keys(records["source"], records["record_id"])
    return Features(record_keys=keys, fields=fields)


def _phones(raw: pd.Series) -> pd.Series:
    """Phone match key: the national significant number (no calling code, no trunk 0).

    Not E.164: a record without a country ("06 55 72 24 76" in a support tool) cannot be put
    in E.164, yet it is the same line as "+33 6 55 72 24 76" elsewhere. Stripping the calling
    code (E.164 codes are prefix-free) and trunk zeros makes both "655722476". Placeholder
    numbers (too short, one repeated digit) are missing.
    """
    text = raw.astype("string").str.strip()
    digits = text.str.replace(r"\D", "", regex=True)
    international = text.str.match(r"^(\+|00)").fillna(False).astype(bool)
    digits = digits.mask(text.str.startswith("00").fillna(False).astype(bool), digits.str[2:])
    nanp = ~international & (digits.str.len() == 11) & digits.str.startswith("1")
    digits = digits.mask(nanp.fillna(False).astype(bool), digits.str[1:])
    national = digits.mask(international, _per_value(digits.where(international), _strip_cc))
    national = national.str.lstrip("0")
    valid = (national.str.len() >= 7) & (national.str.len() <= 14)
    valid &= ~national.str.fullmatch(r"(\d)\1*").fillna(False).astype(bool)
    return national.where(valid.fillna(False).astype(bool)).astype(object).where(
        lambda v: v.notna(), None
    )


@cache
def _calling_codes() -> frozenset[str]:
    return frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _strip_cc(digits: str) -> str | None:
    codes = _calling_codes()
    for length in (1, 2, 3):
        if digits[:length] in codes:
            return digits[length:]
    return None


def _postcodes(raw: pd.Series, country: pd.Series) -> pd.Series:
    """Country-aware postcode, compared without spaces ("SW1A 1AA" = "sw1a1aa")."""
    cleaned = normalize.normalize_postcode(raw, country)
    return _per_value(cleaned, lambda v: v.replace(" ", "").replace("-", "") or None)


def _column_getter(records: pd.DataFrame) -> Callable[[str], pd.Series]:
    empty = pd.Series([None] * len(records), index=records.index, dtype=object)

    def get(name: str) -> pd.Series:
        return records[name].astype(object) if name in records.columns else empty

    return get


def _per_value(raw: pd.Series, func: Callable[[str], str | None]) -> pd.Series:
    """Apply a scalar normalizer once per distinct non-empty value."""
    codes, uniques = pd.factorize(raw.astype(object), use_na_sentinel=True)
    mapped = np.array(
        [None if _blank(u) else func(str(u)) for u in uniques] + [None], dtype=object
    )
    return pd.Series(mapped[codes], index=raw.index, dtype=object)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == ""


def _strip(value: str) -> str | None:
    return value.strip() or None


def _names(first: pd.Series, last: pd.Series, full: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Folded first word of the first name and folded whole last name ("van der Berg" ->
    "vanderberg"); records with only a full name are split; placeholder names are missing."""
    split = normalize.split_full_name(full)
    first = first.where(first.notna(), split["first_name"])
    last = last.where(last.notna(), split["last_name"])
    first_word = _per_value(first, lambda v: _keys.real_name(v.split(" ")[0]))
    return first_word, _per_value(last, _keys.real_name)


def _dates(raw: pd.Series) -> pd.Series:
    """ISO dates; unparseable, pre-1900 and future birth dates are missing. Parsed once per
    distinct value, ISO text on a vectorized fast path."""
    codes, uniques = pd.factorize(raw.astype(object), use_na_sentinel=True)
    text = pd.Series([str(u) for u in uniques], dtype=object)
    parsed = pd.to_datetime(text.str[:10], format="%Y-%m-%d", errors="coerce")
    rest = parsed.isna()
    if rest.any():
        other = pd.to_datetime(text[rest], format="mixed", errors="coerce", utc=True)
        parsed[rest] = other.dt.tz_localize(None)
    valid = (parsed.dt.year >= 1900) & (parsed <= pd.Timestamp.today().normalize())
    iso = parsed.dt.strftime("%Y-%m-%d").where(valid, None).to_numpy(dtype=object)
    return pd.Series(np.append(iso, None)[codes], index=raw.index, dtype=object)


def _coded(values: pd.Series) -> CodedField:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return CodedField(codes.astype(np.int64), np.asarray(uniques, dtype=object))


def _unordered(a: pd.Series, b: pd.Series) -> pd.Series:
    """"x|y" with the smaller first: the same key whichever way round the names were typed."""
    low, high = a.where(a <= b, b), b.where(a <= b, a)
    return (low + "|" + high).where(a.notna() & b.notna(), None)


def _derived(field: CodedField, func: Callable[[str], str | None]) -> CodedField:
    """A coarser key computed from each distinct value of `field`."""
    derived = pd.Series([func(v) for v in field.values] + [None], dtype=object)
    codes, uniques = pd.factorize(derived, use_na_sentinel=True)
    return CodedField(codes[field.codes].astype(np.int64), np.asarray(uniques, dtype=object))


def _email_local(key: str) -> str | None:
    """Mailbox name without dots or +tag, any domain: survives domain typos and the dots
    people sprinkle into non-gmail addresses."""
    local = key.rpartition("@")[0].split("+", 1)[0].replace(".", "")
    return local or None


def _coded_pair(first: pd.Series, last: pd.Series) -> tuple[CodedField, CodedField]:
    """First and last names over one vocabulary, so swapped names compare as codes."""
    codes, uniques = pd.factorize(pd.concat([first, last], ignore_index=True))
    values = np.asarray(uniques, dtype=object)
    n = len(first)
    return (
        CodedField(codes[:n].astype(np.int64), values),
        CodedField(codes[n:].astype(np.int64), values),
    )


def combined_key(features: Features, fields: tuple[str, ...]) -> np.ndarray:
    """Dense int64 code of the tuple of field codes; -1 where any field is missing."""
    key = np.zeros(features.n, dtype=np.int64)
    missing = np.zeros(features.n, dtype=bool)
    for name in fields:
        codes = features.fields[name].codes
        missing |= codes < 0
        _, key = np.unique(key * (len(features.fields[name].values) + 1) + codes + 1,
                           return_inverse=True)  # fmt: skip
        key = key.astype(np.int64)
    key[missing] = -1
    return key
