"""Personal names: casing with particles, splitting full names, phonetic keys."""

from __future__ import annotations

import re

import pandas as pd

from profile_assets.normalizers.text import clean_text, fold_key, map_unique

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
    return map_unique(clean_text(names), _case_name)


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
    parts = map_unique(clean_text(names), _split_name)
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
    return map_unique(clean_text(names), _soundex)
