"""Pure, vectorized normalizers shared by every layer: emails, phones, names, places, times.

Every function takes pandas Series and returns Series/DataFrames on the same index, so sources,
staging, identity and serving normalize the same way. One module per kind of value; the names
below are the public face that the layers import.
"""

from profile_assets.normalizers.email import email_match_key, normalize_email
from profile_assets.normalizers.geo import normalize_country, normalize_postcode
from profile_assets.normalizers.names import (
    PARTICLES,
    name_phonetic_key,
    normalize_name,
    split_full_name,
)
from profile_assets.normalizers.phone import normalize_phone
from profile_assets.normalizers.text import clean_text, fold_key, map_unique, to_object
from profile_assets.normalizers.time import to_utc

__all__ = [
    "PARTICLES",
    "clean_text",
    "email_match_key",
    "fold_key",
    "map_unique",
    "name_phonetic_key",
    "normalize_country",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "normalize_postcode",
    "split_full_name",
    "to_object",
    "to_utc",
]
