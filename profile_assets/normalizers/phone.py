"""Phone numbers to E.164, with a precompiled fast path beside the phonenumbers library."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import pandas as pd
import phonenumbers

from profile_assets.normalizers.text import clean_text, map_unique, to_object

# phonenumbers costs ~25 us per number: 25 s per million distinct numbers. Plain digit strings
# ("+442079460958", national "2125550100") are parsed and validated by `_fast_phone` instead,
# with the library's own metadata and rules precompiled per region (~2 us); anything else
# (letters, extensions, IDD prefixes, prefix rewrite rules) goes to the library. A test holds
# both paths equal over every region's example numbers and random digit strings.
_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
          "voicemail", "fixed_line", "mobile")  # fmt: skip
_CALLING_CODES = frozenset(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_MAX_NSN = 17


@dataclass(frozen=True)
class _RegionRules:
    """One region's phonenumbers metadata, compiled for the checks `_fast_phone` repeats."""

    code: str
    idd: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None
    rewrites_prefix: bool
    general: re.Pattern[str]
    general_lengths: tuple[int, ...]
    leading_digits: re.Pattern[str] | None
    typed: dict[int, re.Pattern[str]]  # length -> any number type's pattern allowing it


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


@cache
def _rules(region: str) -> _RegionRules | None:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or not meta.general_desc.possible_length:
        return None
    by_length: dict[int, list[str]] = {}
    for name in _DESCS:
        desc = getattr(meta, name)
        if desc is None or not desc.national_number_pattern:
            continue
        for length in desc.possible_length or range(1, _MAX_NSN + 1):
            by_length.setdefault(length, []).append(f"(?:{desc.national_number_pattern})")
    return _RegionRules(
        code=str(meta.country_code),
        idd=_compile(meta.international_prefix),
        national_prefix=_compile(meta.national_prefix_for_parsing),
        rewrites_prefix=bool(meta.national_prefix_transform_rule),
        general=re.compile(meta.general_desc.national_number_pattern),
        general_lengths=tuple(meta.general_desc.possible_length),
        leading_digits=_compile(meta.leading_digits),
        typed={n: re.compile("|".join(p)) for n, p in by_length.items()},
    )


def _has_type(nsn: str, rules: _RegionRules) -> bool:
    """phonenumbers' number type for the region is not UNKNOWN."""
    typed = rules.typed.get(len(nsn))
    return (
        len(nsn) in rules.general_lengths
        and rules.general.fullmatch(nsn) is not None
        and typed is not None
        and typed.fullmatch(nsn) is not None
    )


def _is_valid(nsn: str, code: str) -> bool:
    """phonenumbers.is_valid_number: the first region of the calling code whose leading digits
    (or, without those, number types) claim the number decides."""
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[int(code)]:
        rules = _rules(region)
        if rules is None:
            continue
        typed = _has_type(nsn, rules)
        if (rules.leading_digits.match(nsn) is not None) if rules.leading_digits else typed:
            return typed
    return False


def _strip_national_prefix(number: str, rules: _RegionRules) -> str | None:
    """phonenumbers' national prefix stripping ("020..." -> "20..."); None: the library decides."""
    found = rules.national_prefix.match(number) if rules.national_prefix else None
    if found is None:
        return number
    if rules.rewrites_prefix:
        return None
    stripped = number[found.end() :]
    if rules.general.fullmatch(number) and not rules.general.fullmatch(stripped):
        return number
    lengths = rules.general_lengths
    return stripped if len(stripped) in lengths or len(stripped) > max(lengths) else number


def _fast_phone(digits: str, region: str) -> tuple[str | None, bool] | None:
    """(E.164 or None, valid) for a plain digit string, as phonenumbers would say; None when
    the input needs the library."""
    body = digits[1:] if digits.startswith("+") else digits
    if not (body.isascii() and body.isdigit() and 6 <= len(body) <= _MAX_NSN):
        return None
    if digits.startswith("+"):
        code = next((body[:n] for n in (1, 2, 3) if body[:n] in _CALLING_CODES), None)
        if code is None or body[0] == "0":
            return None
        home = phonenumbers.region_code_for_country_code(int(code))
        rules, rest = _rules(home), body[len(code) :]
    else:
        rules, rest = _rules(region), body
        if rules is None or body.startswith(rules.code) or (rules.idd and rules.idd.match(body)):
            return None
        code = rules.code
    nsn = _strip_national_prefix(rest, rules) if rules else None
    if nsn is None or not 2 <= len(nsn) <= _MAX_NSN:
        return None
    valid = _is_valid(nsn, code)
    return (f"+{code}{nsn}" if valid else None), valid


def _parse_phone(key: str) -> tuple[str | None, bool]:
    """One "number|region" key: (E.164 or None, valid)."""
    number, _, region = key.rpartition("|")
    fast = _fast_phone(number, region)
    return fast if fast is not None else _library_phone(number, region)


def _library_phone(number: str, region: str) -> tuple[str | None, bool]:
    try:
        parsed = phonenumbers.parse(number, region or None)
    except phonenumbers.NumberParseException:
        return None, False
    if not phonenumbers.is_valid_number(parsed):
        return None, False
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), True


def normalize_phone(phones: pd.Series, default_region: str | pd.Series = "US") -> pd.DataFrame:
    """Phone numbers to E.164 with phonenumbers; a number without "+" is read in its region.

    `default_region` is an ISO alpha-2 region, one per source or a Series per row (e.g. the
    record's country filled with the source default). Returns `phone` (E.164, <NA> when not a
    valid number), `phone_raw` (the input, trimmed) and `phone_valid` (nullable boolean).
    Letters are read as keypad digits as phonenumbers does ("1-800-FLOWERS"); extensions are
    dropped from `phone` (E.164 has none) but stay in `phone_raw`.
    """
    raw = clean_text(phones)
    region = pd.Series(default_region, index=raw.index).astype("string").str.upper().fillna("")
    # Punctuation does not change how a number parses; dropping it first lets "(212) 555-0100"
    # and "212.555.0100" share one parse.
    key = raw.str.replace(r"[\s()./\-]", "", regex=True) + "|" + region
    parsed = map_unique(key, _parse_phone)
    present = raw.notna()
    return pd.DataFrame(
        {
            "phone": parsed.str[0].where(present, None),
            "phone_raw": to_object(raw),
            "phone_valid": pd.array(parsed.str[1].where(present), dtype="boolean"),
        },
        index=raw.index,
    )
