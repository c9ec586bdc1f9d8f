"""Match-key helpers staging's normalizers do not cover: placeholder names and street lines.

Normalization itself is staging's (`profile_assets.normalizers`); these only decide what
counts as *evidence* when comparing records.
"""

from __future__ import annotations

import re
import unicodedata

from profile_assets.normalizers import fold_key

#: Values people type when a form insists on a name; agreeing on them says nothing.
PLACEHOLDER_NAMES = frozenset(
    {"test", "unknown", "none", "null", "na", "nan", "customer", "guest", "user", "anonymous",
     "xxx", "x", "asdf", "sample", "dummy", "noname", "tbd", "nobody", "firstname", "lastname"}
)  # fmt: skip
_ADDRESS_WORDS = {
    "st": "street", "rd": "road", "ave": "avenue", "av": "avenue", "ln": "lane", "dr": "drive",
    "ct": "court", "blvd": "boulevard", "pl": "place", "apt": "apartment", "ste": "suite",
    "hwy": "highway", "sq": "square", "ter": "terrace", "str": "strasse", "n": "north",
    "s": "south", "e": "east", "w": "west",
}  # fmt: skip


def real_name(raw: str) -> str | None:
    """Folded name (no case, accents, spaces or punctuation), None for placeholders."""
    key = fold_key(raw)
    return None if not key or key in PLACEHOLDER_NAMES else key


def clean_address(raw: str) -> str | None:
    """Street line with case, punctuation and common abbreviations made uniform."""
    text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9 ]+", " ", text).split()
    return " ".join(_ADDRESS_WORDS.get(w, w) for w in words) or None
