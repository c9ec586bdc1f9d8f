"""Pure, vectorized normalizers for staging: emails, phones, names, countries, postcodes, times.

Every function takes pandas Series and returns Series/DataFrames on the same index, so staging
and identity resolution normalize the same way. Per-value library calls (email-validator,
phonenumbers, name casing) run once per *distinct* value (`_map_unique`), and emails skip the
library entirely when a conservative vectorized pattern already proves them valid: 1M rows
take seconds, not minutes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import email_validator
import numpy as np
import pandas as pd
import phonenumbers
import pycountry


# --------------------------------------------------------------------------- helpers
def _map_unique(series: pd.Series, fn: Callable[[Any], Hashable]) -> pd.Series:
    """Apply `fn` once per distinct non-null value; nulls stay null."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [fn(u) for u in uniques]
    mapped[-1] = None  # code -1 (null) indexes the last slot
    return pd.Series(mapped[codes], index=series.index, dtype=object)


def _to_object(series: pd.Series) -> pd.Series:
    """Object dtype with None for missing: what Parquet/DuckDB writers and `is None` expect."""
    return series.astype(object).where(series.notna(), None)


def clean_text(series: pd.Series) -> pd.Series:
    """Strings, NFKC-normalized, whitespace collapsed and trimmed; "" becomes null."""
    text = series.astype("string").str.normalize("NFKC")
    text = text.str.replace(r"\s+", " ", regex=True).str.strip()
    return text.mask(text == "")


def fold_key(text: str) -> str:
    """Drop accents, case, spaces and punctuation: "U.K." ~ "uk", "E-mail" ~ "email"."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\W_]", "", stripped.casefold())


# --------------------------------------------------------------------------- emails
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
            "email": _to_object((local + "@" + domain).where(simple)),
            "email_valid": pd.array(np.where(simple, True, pd.NA), dtype="boolean"),
            "email_reason": pd.Series(None, index=text.index, dtype=object),
        }
    )
    hard = text.notna() & ~simple
    if hard.any():
        checked = _map_unique(text[hard], _validate_email)
        out.loc[hard, "email"] = checked.str[0]
        out.loc[hard, "email_valid"] = checked.str[1].astype(bool).to_numpy()
        out.loc[hard, "email_reason"] = checked.str[2]
    out["email_reason"] = _to_object(out["email_reason"])
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
    domain = _map_unique(domain.where(usable), lambda d: _DOMAIN_ALIASES.get(d, _ascii_domain(d)))
    local = local.mask(domain.isin(_DOTS_IGNORED), local.str.replace(".", "", regex=False))
    local = local.mask(domain.isin(_PLUS_TAGS_IGNORED), local.str.replace(r"\+.*$", "", regex=True))
    return _to_object((local + "@" + domain.astype("string")).where(usable))


# --------------------------------------------------------------------------- phones
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
    parsed = _map_unique(key, _parse_phone)
    present = raw.notna()
    return pd.DataFrame(
        {
            "phone": parsed.str[0].where(present, None),
            "phone_raw": _to_object(raw),
            "phone_valid": pd.array(parsed.str[1].where(present), dtype="boolean"),
        },
        index=raw.index,
    )


# --------------------------------------------------------------------------- names
# Lowercase when followed by another name part ("Ludwig van Beethoven", "de la Cruz").
PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "das", "dos", "du", "la",
     "le", "ter", "ten", "zu", "af", "bin", "ibn", "al", "y"}
)  # fmt: skip
# "Mac" is a prefix in MacDonald but not in these.
_MAC_EXCEPTIONS = frozenset(
    {"mack", "macey", "machado", "macias", "mackie", "macklin", "macon", "macy", "macaulay",
     "machin", "mace", "macri", "macek"}
)  # fmt: skip
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"})
# Letters (word characters that are not digits or "_") outside a script's Unicode blocks.
_LATIN_BLOCKS = (
    "A-Za-z\u00aa\u00ba\u00c0-\u024f\u0300-\u036f\u1e00-\u1eff\u2c60-\u2c7f\ua720-\ua7ff"
)
_CJK_BLOCKS = (
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
)
_NOT_LATIN = re.compile(f"[^\\W\\d_{_LATIN_BLOCKS}]")
_NOT_CJK = re.compile(f"[^\\W\\d_{_CJK_BLOCKS}]")
_CJK = re.compile(f"[{_CJK_BLOCKS}]")


def _is_latin(text: str) -> bool:
    return _NOT_LATIN.search(text) is None


def _is_cjk(text: str) -> bool:
    """Han, kana or Hangul letters only: names written family name first."""
    return _CJK.search(text) is not None and _NOT_CJK.search(text) is None


def _cap_part(part: str) -> str:
    """Capitalize one hyphen/apostrophe-free part, with the Mc/Mac prefixes."""
    lower = part.lower()
    if lower.startswith("mc") and len(lower) > 2:
        return "Mc" + lower[2:].capitalize()
    if lower.startswith("mac") and len(lower) > 5 and lower not in _MAC_EXCEPTIONS:
        return "Mac" + lower[3:].capitalize()
    return lower.capitalize()


def _cap_word(word: str) -> str:
    """Capitalize each piece between hyphens and apostrophes: "o'neill-smith" -> "O'Neill-Smith"."""
    pieces = re.split(r"([-'’])", word)
    return "".join(p if p in "-'’" else _cap_part(p) for p in pieces)


def _case_word(word: str, inside: bool) -> str:
    if word not in (word.upper(), word.lower()):
        return word  # "McDonald", "DeVito", "d'Artagnan": the writer knew best
    return word.lower() if inside and word.lower() in PARTICLES else _cap_word(word)


def _case_name(name: str) -> str:
    """Title-case the ALL-CAPS or all-lowercase words of a Latin-script name."""
    if not _is_latin(name):
        return name
    words = name.split(" ")
    return " ".join(_case_word(w, i < len(words) - 1) for i, w in enumerate(words))


def normalize_name(names: pd.Series) -> pd.Series:
    """NFKC, whitespace collapsed, and casing fixed where the input had none.

    ALL-CAPS or all-lowercase words of Latin names are title-cased respecting Mc/Mac, O'/D' and
    hyphens, with particles (van, de, von, da...) lowercase when another word follows.
    Mixed-case words ("McDonald", "DeVito") and non-Latin scripts are kept as written.
    """
    return _map_unique(clean_text(names), _case_name)


def _bare(word: str) -> str:
    return word.lower().strip(".,")


def _split_name(raw: str) -> tuple[str | None, str | None]:
    # "Beethoven, Ludwig van" is "Ludwig van Beethoven" surname first; ", Jr." is a suffix.
    parts = [p.strip() for p in raw.split(",") if _bare(p.strip()) not in _SUFFIXES]
    name = _case_name(" ".join([*parts[1:], parts[0]]).strip() if parts else "")
    words = [w for w in name.split() if _bare(w) not in _TITLES]
    while words and _bare(words[-1]) in _SUFFIXES:
        words.pop()
    if _is_cjk(name):  # family name first; unsplittable without a space
        return (" ".join(words[1:]) or None, words[0]) if len(words) > 1 else (None, None)
    if len(words) < 2:
        return (words[0] if words else None), None
    start = next(
        (i for i in range(1, len(words) - 1) if words[i].lower() in PARTICLES), len(words) - 1
    )
    return " ".join(words[:start]), " ".join(words[start:])


def split_full_name(names: pd.Series) -> pd.DataFrame:
    """Split full names into `first_name` and `last_name` (both normalized as normalize_name).

    "Ludwig van Beethoven" -> Ludwig / van Beethoven (the surname starts at the first particle
    after the given name); "Beethoven, Ludwig van" -> the same; otherwise the last word is the
    surname. Titles (Dr, Mrs) and suffixes (Jr, III) are dropped. CJK names are family name
    first; written without a space they stay unsplit (both <NA>). A single word is a first name.
    """
    parts = _map_unique(clean_text(names), _split_name)
    present = parts.notna()
    return pd.DataFrame(
        {
            "first_name": parts.str[0].where(present, None),
            "last_name": parts.str[1].where(present, None),
        },
        index=names.index,
    )


_SOUNDEX_CODES = {c: d for letters, d in [("BFPV", "1"), ("CGJKQSXZ", "2"), ("DT", "3"),
                  ("L", "4"), ("MN", "5"), ("R", "6")] for c in letters}  # fmt: skip


def _soundex(name: str) -> str | None:
    words = [w for w in name.split(" ") if w.lower() not in PARTICLES] or name.split(" ")
    letters = re.sub(r"[^A-Z]", "", fold_key("".join(words)).upper())
    if not letters:  # non-Latin scripts: the folded name itself still blocks exact spellings
        return fold_key(name) or None
    out, prev = [], _SOUNDEX_CODES.get(letters[0], "")
    for ch in letters[1:]:
        code = _SOUNDEX_CODES.get(ch, "")
        if code and code != prev:
            out.append(code)
        if ch not in "HW":  # H and W do not separate equal codes; vowels do
            prev = code
    return (letters[0] + "".join(out) + "000")[:4]


def name_phonetic_key(names: pd.Series) -> pd.Series:
    """American Soundex of a name, for blocking candidate pairs ("Smith" ~ "Smyth" ~ "Schmidt").

    Particles are skipped ("van Beethoven" keys as "Beethoven"), accents folded; names with no
    Latin letters key as their case-folded text.
    """
    return _map_unique(clean_text(names), _soundex)


# --------------------------------------------------------------------------- places
_COUNTRY_ALIASES = {
    "US": ["usa", "u.s.a.", "u.s.", "america", "united states of america", "estados unidos"],
    "GB": ["uk", "u.k.", "great britain", "britain", "england", "scotland", "wales",
           "northern ireland", "united kingdom of great britain and northern ireland"],
    "DE": ["deutschland", "bundesrepublik deutschland", "allemagne", "alemania"],
    "NL": ["holland", "the netherlands", "nederland"],
    "ES": ["espana"], "IT": ["italia"], "IE": ["eire"], "BR": ["brasil"], "AT": ["osterreich"],
    "CH": ["schweiz", "suisse", "svizzera"], "BE": ["belgie", "belgique"],
    "RU": ["russia"], "KR": ["south korea", "korea"], "KP": ["north korea"], "VN": ["vietnam"],
    "TR": ["turkey"], "CZ": ["czech republic"], "CI": ["ivory coast"], "AE": ["uae"],
}  # fmt: skip


@cache
def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        names = [country.alpha_2, country.alpha_3, country.name]
        names += [getattr(country, a, None) for a in ("official_name", "common_name")]
        for name in filter(None, names):
            index.setdefault(fold_key(name), country.alpha_2)
    for code, aliases in _COUNTRY_ALIASES.items():
        index.update({fold_key(a): code for a in aliases})
    return index


def normalize_country(countries: pd.Series) -> pd.Series:
    """ISO 3166-1 alpha-2 from codes, English/official names and common aliases; <NA> if unknown.

    "USA", "U.K.", "Deutschland", "the Netherlands", "gb", "DEU" all resolve.
    """
    index = _country_index()
    return _map_unique(clean_text(countries), lambda c: index.get(fold_key(c)))


# country -> (pattern on the upper-cased, space-collapsed code, replacement, zero-pad width)
_POSTCODE_RULES: dict[str, tuple[str, str, int]] = {
    "US": (r"^(\d{5})(?:[ -]?\d{4})?$", r"\1", 5),  # ZIP+4 -> ZIP
    "GB": (r"^([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})$", r"\1 \2", 0),
    "NL": (r"^(\d{4}) ?([A-Z]{2})$", r"\1 \2", 0),
    "CA": (r"^([A-Z]\d[A-Z])[ -]?(\d[A-Z]\d)$", r"\1 \2", 0),
    "DE": (r"^(?:D-?)?(\d{5})$", r"\1", 5),
}


def normalize_postcode(postcodes: pd.Series, countries: str | pd.Series) -> pd.Series:
    """Postcodes upper-cased and spaced per country: US 5-digit ZIP, GB "SW1A 1AA", NL "1234 AB",
    CA "K1A 0B1", DE 5 digits. Leading zeros lost by spreadsheets are restored (US "2134" ->
    "02134"); codes that do not fit their country's pattern, and other countries, are only
    trimmed and upper-cased.
    """
    text = clean_text(postcodes).str.upper()
    country = pd.Series(countries, index=text.index).astype("string")
    out = text.copy()
    for code, (pattern, repl, width) in _POSTCODE_RULES.items():
        rows = (country == code).fillna(False).astype(bool) & text.notna()
        if not rows.any():
            continue
        value = text[rows]
        if width:
            short = value.str.fullmatch(rf"\d{{3,{width - 1}}}")
            value = value.mask(short, value.str.zfill(width))
        out[rows] = value.str.replace(pattern, repl, regex=True)
    return _to_object(out)


# --------------------------------------------------------------------------- timestamps
# A clock time followed by "Z" or a UTC offset ("...T10:00:00.123+02:00"); a bare date is naive.
_OFFSET_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def _localize_by_fold0(naive: pd.Timestamp, tz: str) -> pd.Timestamp:
    """Python's fold=0 reading of a wall time, for the rare times pandas cannot localize."""
    local = naive.to_pydatetime().replace(tzinfo=ZoneInfo(tz), fold=0)
    return pd.Timestamp(local).tz_convert("UTC")


def _localize(naive: pd.Series, tz: str) -> pd.Series:
    utc = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    odd = utc.isna() & naive.notna()
    if odd.any():  # wall times in a DST overlap or gap
        utc = utc.astype(object)
        utc[odd] = [_localize_by_fold0(t, tz) for t in naive[odd]]
        utc = pd.to_datetime(utc, utc=True).astype("datetime64[ns, UTC]")
    return utc


def to_utc(values: pd.Series, source_tz: str) -> pd.Series:
    """Timestamps to tz-aware UTC (`datetime64[ns, UTC]`); unparseable values become NaT.

    Aware values (and strings ending in "Z" or an offset) are converted. Naive values are wall
    times in `source_tz`, read like Python's zoneinfo with fold=0: a time repeated when clocks
    go back (01:30 on a fall-back night) is the *first* one, still daylight time; a time that
    never happened when clocks go forward (02:30 on a spring-forward night) keeps the offset
    from before the jump, so it lands as long after the jump as it claims (02:30 EST = 03:30 EDT).
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if values.dtype.kind == "M":
        return _localize(values.astype("datetime64[ns]"), source_tz)
    # Strings and Python datetimes alike: str() of an aware datetime ends in its offset.
    text = clean_text(values)
    aware = text.str.contains(_OFFSET_SUFFIX, regex=True).fillna(False).astype(bool)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if aware.any():
        out[aware] = _parse_timestamps(text[aware], utc=True)
    naive = text.notna() & ~aware
    if naive.any():
        out[naive] = _localize(_parse_timestamps(text[naive], utc=False), source_tz)
    return out


def _parse_timestamps(text: pd.Series, utc: bool) -> pd.Series:
    """ISO-8601 on the fast path; anything else through pandas' per-value format inference."""
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=utc)
    retry = parsed.isna() & text.notna()
    if retry.any():
        parsed[retry] = pd.to_datetime(text[retry], format="mixed", errors="coerce", utc=utc)
    return parsed if utc else parsed.astype("datetime64[ns]")
