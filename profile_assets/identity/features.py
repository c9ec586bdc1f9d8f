"""Person records -> integer-coded match keys, the only form the rest of the engine sees.

Every field becomes `codes` (int64 per record, -1 = missing) over `values` (its distinct
normalized strings). Codes make exact agreement an integer comparison, blocking a sort, and
term frequencies a bincount; fuzzy scoring runs once per distinct pair of values, not per pair
of records. Normalization runs once per distinct raw value for the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import phonenumbers

from profile_assets import normalizers as normalize
from profile_assets.identity import _keys

#: Optional cross-system identifier: records with the same link id are the same account
#: (e.g. a storefront customer and the CRM contact holding its `storefront_customer_id`).
LINK_FIELD = "link_id"
KEY_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class CodedField:
    codes: np.ndarray
    values: np.ndarray


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
    first_name, last_name = _names(col("first_name"), col("last_name"), col("full_name"))
    country = _code(col("country"), normalize.normalize_country)
    email = _code(col("email"), normalize.email_match_key)
    first_ph, last_ph = _phonetic(first_name, last_name)
    dob = _code(col("date_of_birth"), _dates)
    address = _code(col("address_line1"), _each(_keys.clean_address))
    postcode = _postcodes(col("postcode"), country)
    fields = {
        "email": email,
        "email_local": _derived(email, _each(_email_local)),
        "email_domain": _derived(email, _each(lambda key: key.rpartition("@")[2])),
        "phone": _code(col("phone"), _each(_phone_key)),
        "link_id": _code(col(LINK_FIELD), _each(_strip)),
        "first_name": first_name,
        "last_name": last_name,
        "first_ph": first_ph,
        "last_ph": last_ph,
        "names_ph": _unordered(first_ph, last_ph),
        "dob": dob,
        "postcode": postcode,
        "city": _code(col("city"), _each(normalize.fold_key)),
        "address": address,
        **blocking_keys(first_name, last_name, dob, address, postcode),
    }
    keys = record_keys(records["source"], records["record_id"])
    return Features(record_keys=keys, fields=fields)


Normalizer = Callable[[pd.Series], pd.Series]


def _code(raw: pd.Series, normalizer: Normalizer) -> CodedField:
    """Normalize once per distinct raw value, then code the normalized values."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    if len(uniques) == 0:  # nothing to normalize; some normalizers fail on an empty Series
        return CodedField(codes.astype(np.int64), np.zeros(0, dtype=object))
    return _recode(codes, normalizer(pd.Series(uniques, dtype=object)))


def _recode(codes: np.ndarray, normalized: pd.Series) -> CodedField:
    """Codes over raw distinct values + their normalized values -> codes over the latter."""
    values = pd.Series(np.asarray(normalized, dtype=object)).where(lambda v: v.notna(), None)
    final, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.append(final, -1).astype(np.int64)[codes]
    return CodedField(mapped, np.asarray(uniques, dtype=object))


def _derived(field: CodedField, normalizer: Normalizer) -> CodedField:
    """A coarser key computed from each distinct value of `field`."""
    return _recode(field.codes, normalizer(pd.Series(field.values, dtype=object)))


def _each(func: Callable[[str], str | None]) -> Normalizer:
    """A scalar normalizer applied to each (distinct, non-empty) value."""

    def apply(values: pd.Series) -> pd.Series:
        present = values.notna().to_numpy()
        return pd.Series(
            [
                func(str(v)) if ok and str(v) else None
                for v, ok in zip(values, present, strict=True)
            ],
            dtype=object,
        )

    return apply


def _phone_key(raw: str) -> str | None:
    """Phone match key: the national significant number (no calling code, no trunk 0).

    Not E.164: a record without a country ("06 55 72 24 76" in a support tool) cannot be put
    in E.164, yet it is the same line as "+33 6 55 72 24 76" elsewhere. Stripping the calling
    code (E.164 codes are prefix-free) and trunk zeros makes both "655722476". Placeholder
    numbers (too short, one repeated digit) are missing.
    """
    text = raw.strip()
    digits = "".join(c for c in text if c.isdigit())
    if text.startswith("+") or text.startswith("00"):
        digits = _strip_cc(digits[2:] if text.startswith("00") else digits) or ""
    elif len(digits) == 11 and digits[0] == "1":  # NANP written with its trunk 1
        digits = digits[1:]
    national = digits.lstrip("0")
    if not 7 <= len(national) <= 14 or len(set(national)) == 1:
        return None
    return national


@cache
def _calling_codes() -> frozenset[str]:
    return frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _strip_cc(digits: str) -> str | None:
    codes = _calling_codes()
    for length in (1, 2, 3):
        if digits[:length] in codes:
            return digits[length:]
    return None


def _postcodes(raw: pd.Series, country: CodedField) -> CodedField:
    """Country-aware postcode, compared without spaces ("SW1A 1AA" = "sw1a1aa"); normalized
    once per distinct (postcode, country)."""
    pairs = pd.DataFrame({"postcode": raw.to_numpy(), "country": country.codes})
    codes = pairs.groupby(["postcode", "country"], sort=False, dropna=False).ngroup().to_numpy()
    distinct = pairs.drop_duplicates()
    countries = pd.Series(np.append(country.values, None)[distinct["country"].to_numpy()])
    cleaned = normalize.normalize_postcode(distinct["postcode"].reset_index(drop=True), countries)
    compact = _each(lambda v: v.replace(" ", "").replace("-", "") or None)(cleaned)
    return _recode(codes, compact)


def _column_getter(records: pd.DataFrame) -> Callable[[str], pd.Series]:
    empty = pd.Series([None] * len(records), index=records.index, dtype=object)

    def get(name: str) -> pd.Series:
        return records[name].astype(object) if name in records.columns else empty

    return get


def _strip(value: str) -> str | None:
    return value.strip() or None


def _names(first: pd.Series, last: pd.Series, full: pd.Series) -> tuple[CodedField, CodedField]:
    """Folded first word of the first name and folded whole last name ("van der Berg" ->
    "vanderberg"), over one vocabulary so swapped names compare as codes; records with only
    a full name are split; placeholder names are missing."""
    full_codes, full_values = pd.factorize(full, use_na_sentinel=True)
    split = normalize.split_full_name(pd.Series(full_values, dtype=object))
    split_first = np.append(split["first_name"].to_numpy(dtype=object), None)[full_codes]
    split_last = np.append(split["last_name"].to_numpy(dtype=object), None)[full_codes]
    first = first.where(first.notna(), pd.Series(split_first, index=first.index))
    last = last.where(last.notna(), pd.Series(split_last, index=last.index))
    first_coded = _code(first, _each(lambda v: _keys.real_name(v.split(" ")[0])))
    last_coded = _code(last, _each(_keys.real_name))
    return _shared_vocabulary(first_coded, last_coded)


def _shared_vocabulary(a: CodedField, b: CodedField) -> tuple[CodedField, CodedField]:
    """Re-code two fields over the union of their values."""
    codes, values = pd.factorize(np.concatenate([a.values, b.values]).astype(object))
    values = np.asarray(values, dtype=object)
    map_a = np.append(codes[: len(a.values)], -1).astype(np.int64)
    map_b = np.append(codes[len(a.values) :], -1).astype(np.int64)
    return CodedField(map_a[a.codes], values), CodedField(map_b[b.codes], values)


def _dates(text_values: pd.Series) -> pd.Series:
    """ISO dates; unparseable, pre-1900 and future birth dates are missing; ISO text on a
    vectorized fast path."""
    text = pd.Series([str(v) for v in text_values], dtype=object)
    parsed = pd.to_datetime(text.str[:10], format="%Y-%m-%d", errors="coerce")
    rest = parsed.isna()
    if rest.any():
        other = pd.to_datetime(text[rest], format="mixed", errors="coerce", utc=True)
        parsed[rest] = other.dt.tz_localize(None)
    valid = (parsed.dt.year >= 1900) & (parsed <= pd.Timestamp.today().normalize())
    return parsed.dt.strftime("%Y-%m-%d").where(valid, None).astype(object)


def _phonetic(first: CodedField, last: CodedField) -> tuple[CodedField, CodedField]:
    """Soundex of both names over one phonetic vocabulary (first and last share names)."""
    phonetic = _derived(CodedField(np.arange(len(first.values)), first.values),
                        normalize.name_phonetic_key)  # fmt: skip
    per_name = np.append(phonetic.codes, -1)
    return (
        CodedField(per_name[first.codes], phonetic.values),
        CodedField(per_name[last.codes], phonetic.values),
    )


def _unordered(a: CodedField, b: CodedField) -> CodedField:
    """Unordered pair of two coded fields: the same key whichever way round the names were
    typed ("Smith John" and "John Smith")."""
    width = np.int64(max(len(a.values), len(b.values)) + 1)
    low, high = np.minimum(a.codes, b.codes), np.maximum(a.codes, b.codes)
    key = np.where(low >= 0, low * width + high, -1)
    codes, uniques = pd.factorize(key, use_na_sentinel=True)
    present = key >= 0
    out = np.where(present, codes, -1).astype(np.int64)
    return CodedField(out, np.asarray(uniques, dtype=object))


def blocking_keys(
    first: CodedField, last: CodedField, dob: CodedField, address: CodedField, postcode: CodedField
) -> dict[str, CodedField]:
    """Coarse keys that survive one typo in the field they come from, so that blocking
    rules combining two of them still meet typo'd duplicates that share no exact value.

    A one-digit edit of a birth date leaves two of (year, month, day) intact; `dob_md`
    (year with day and month unordered) survives a day/month swap. Name tails (last three
    letters) survive the first-letter typos that change a Soundex code. Street name and house
    number survive a typo in the other; a postcode's first three characters its last digit.
    """
    return {
        "dob_ym": _derived(dob, _each(lambda v: v[:7])),
        "dob_yd": _derived(dob, _each(lambda v: v[:4] + v[7:])),
        "dob_md": _derived(dob, _each(lambda v: v[:4] + "".join(sorted((v[5:7], v[8:]))))),
        "first_tail": _derived(first, _each(lambda v: v[-3:] if len(v) > 3 else None)),
        "last_tail": _derived(last, _each(lambda v: v[-3:] if len(v) > 3 else None)),
        "house_number": _derived(address, _each(_house_number)),
        "street": _derived(address, _each(_street_name)),
        "postcode_area": _derived(postcode, _each(lambda v: v[:3] if len(v) > 3 else None)),
    }


def _house_number(address: str) -> str | None:
    match = re.search(r"\d+", address)
    return match.group() if match else None


def _street_name(address: str) -> str | None:
    """The street line's words without numbers: what neighbours and one person share."""
    return " ".join(w for w in address.split() if not w.isdigit()) or None


def _email_local(key: str) -> str | None:
    """Mailbox name without dots or +tag, any domain: survives domain typos and the dots
    people sprinkle into non-gmail addresses."""
    local = key.rpartition("@")[0].split("+", 1)[0].replace(".", "")
    return local or None


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
