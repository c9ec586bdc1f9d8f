"""Places: ISO 3166 countries from names and aliases, postcodes per country."""

from __future__ import annotations

from functools import cache

import pandas as pd
import pycountry

from profile_assets.normalizers.text import clean_text, fold_key, map_unique, to_object

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
    return map_unique(clean_text(countries), lambda c: index.get(fold_key(c)))


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
    return to_object(out)
