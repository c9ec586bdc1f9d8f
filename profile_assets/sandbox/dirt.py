"""The ways real records of one person disagree: typos, nicknames, formats, gaps, breakage.

Each function takes an array of clean values and returns a dirty copy, touching a random share
of the elements. Only the touched elements go through Python string code, so the cost follows
the amount of dirt, not the size of the world.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from profile_assets.sandbox.pools import Pools

_KEYBOARD_NEIGHBOURS = {
    "a": "sqwz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}  # fmt: skip
_STREET_ABBREVIATIONS = {
    "Street": "St", "Avenue": "Ave", "Road": "Rd", "Drive": "Dr", "Lane": "Ln",
    "Court": "Ct", "Boulevard": "Blvd", "Place": "Pl", "Square": "Sq", "Terrace": "Ter",
}  # fmt: skip
_EMAIL_DOMAIN_TYPOS = {
    "gmail.com": "gmial.com", "yahoo.com": "yaho.com", "hotmail.com": "hotmial.com",
    "outlook.com": "outlok.com", "icloud.com": "iclod.com",
}  # fmt: skip
_PLUS_TAGS = ("shop", "news", "orders", "promo", "2024", "deals")


@dataclass(frozen=True)
class NameDirt:
    """Per-source probabilities of each name defect."""

    nickname: float
    typo: float
    swap: float
    case: float


def pick(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """Positions of a random share p of n elements."""
    return np.flatnonzero(rng.random(n) < p)


def objects(values) -> np.ndarray:
    """An object array from any iterable (numpy would otherwise split lists or make str dtypes)."""
    items = list(values)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def apply(values: np.ndarray, where: np.ndarray, func: Callable, *args: np.ndarray) -> None:
    """values[where] = func(value, *per-element args), in place, in Python only for `where`."""
    if len(where) == 0:
        return
    columns = [values[where], *(a[where] if len(a) == len(values) else a for a in args)]
    values[where] = objects([func(*row) for row in zip(*columns, strict=True)])


@cache
def ascii_fold(text: str) -> str:
    """Email local parts are ASCII: drop accents and anything not a letter."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalpha())


def typo(text: str, kind: int, position: float) -> str:
    """One keyboard slip: drop, double, swap or hit a neighbouring key."""
    if len(text) < 3:
        return text
    i = 1 + int(position * (len(text) - 2))
    ch = text[i]
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + ch + text[i:]
    if kind == 2:
        return text[: i - 1] + ch + text[i - 1] + text[i + 1 :]
    near = _KEYBOARD_NEIGHBOURS.get(ch.lower(), ch)
    swap = near[int(position * 997) % len(near)]
    return text[:i] + (swap.upper() if ch.isupper() else swap) + text[i + 1 :]


def add_typos(rng: np.random.Generator, values: np.ndarray, p: float) -> None:
    where = pick(rng, len(values), p)
    kinds = rng.integers(0, 4, len(where))
    positions = rng.random(len(where))
    apply(values, where, typo, kinds, positions)


def dirty_names(
    rng: np.random.Generator,
    first_idx: np.ndarray,
    last: np.ndarray,
    pools: Pools,
    dirt: NameDirt,
) -> tuple[np.ndarray, np.ndarray]:
    """First and last names as a source recorded them: nicknames, typos, swaps, odd case."""
    first = pools.first_names[first_idx]
    last = last.copy()
    nick_count = pools.nick_count[first_idx]
    nick = np.flatnonzero((rng.random(len(first)) < dirt.nickname) & (nick_count > 0))
    choice = (rng.random(len(nick)) * nick_count[nick]).astype(np.int64)
    first[nick] = pools.nick_table[first_idx[nick], choice]
    add_typos(rng, first, dirt.typo / 2)
    add_typos(rng, last, dirt.typo / 2)
    swap = pick(rng, len(first), dirt.swap)
    first[swap], last[swap] = last[swap], first[swap].copy()
    case = pick(rng, len(first), dirt.case)
    upper = rng.random(len(case)) < 0.5
    for values in (first, last):
        apply(values, case[upper], str.upper)
        apply(values, case[~upper], str.lower)
    return first, last


def plus_tag(email: str, tag_index: int) -> str:
    local, _, domain = email.partition("@")
    return f"{local}+{_PLUS_TAGS[tag_index % len(_PLUS_TAGS)]}@{domain}"


def _dots(email: str, position: float) -> str:
    """Gmail ignores dots, so people type them differently from one form to the next."""
    local, _, domain = email.partition("@")
    if "." in local:
        return local.replace(".", "", 1) + "@" + domain
    i = 1 + int(position * max(len(local) - 2, 1))
    return f"{local[:i]}.{local[i:]}@{domain}"


def _domain_typo(email: str, position: float) -> str:
    local, _, domain = email.partition("@")
    bad = _EMAIL_DOMAIN_TYPOS.get(domain)
    return f"{local}@{bad}" if bad else typo(local, 3, position) + "@" + domain


def _mixed_case(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1].upper()}{local[1:]}@{domain.capitalize()}"


def vary_emails(rng: np.random.Generator, emails: np.ndarray, where: np.ndarray) -> None:
    """Rewrite emails[where] as the same mailbox spelled differently (plus tag, dots, typo)."""
    kind = rng.integers(0, 3, len(where))
    number = rng.random(len(where))
    apply(emails, where[kind == 0], plus_tag, (number[kind == 0] * 60).astype(int))
    apply(emails, where[kind == 1], _dots, number[kind == 1])
    apply(emails, where[kind == 2], _domain_typo, number[kind == 2])


def vary_email_case(rng: np.random.Generator, emails: np.ndarray, p: float) -> None:
    where = pick(rng, len(emails), p)
    where = where[np.array([e is not None for e in emails[where]], dtype=bool)]
    upper = rng.random(len(where)) < 0.3
    apply(emails, where[upper], str.upper)
    apply(emails, where[~upper], _mixed_case)


def make_unique(rng: np.random.Generator, emails: np.ndarray, plus: bool = True) -> None:
    """Later duplicates get a number: as a plus-tag where a source refuses a second account
    with the same address, or in the name where a mail provider refuses a taken one. Expects
    lowercase addresses (run it before case dirt, which cannot create new collisions).
    A mail provider counts an address as taken by mailbox (gmail ignores dots; a +tag reaches
    the untagged mailbox); a source refusing a second account compares exact addresses."""

    def keys(values: np.ndarray) -> np.ndarray:
        series = pd.Series(values, dtype=object)
        return (series if plus else _mailbox(series)).to_numpy(dtype=object)

    taken = pd.Series(keys(emails), dtype=object)
    while True:
        where = np.flatnonzero(taken.duplicated().to_numpy() & taken.notna().to_numpy())
        if len(where) == 0:
            return
        numbers = rng.integers(1, 10_000, len(where))
        apply(emails, where, _plus_number if plus else _number, numbers)
        taken.iloc[where] = keys(emails[where])  # only renumbered addresses change their key


GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


def _mailbox(emails: pd.Series) -> pd.Series:
    local, _, domain = (emails.str.partition("@")[i] for i in range(3))
    local = local.str.partition("+")[0]
    local = local.where(~domain.isin(GMAIL_DOMAINS), local.str.replace(".", "", regex=False))
    return (local + "@" + domain).where(emails.notna())


def _plus_number(email: str, number: int) -> str:
    local, _, domain = email.partition("@")
    return f"{local}+{number}@{domain}"


def _number(email: str, number: int) -> str:
    local, _, domain = email.partition("@")
    return f"{local}{number}@{domain}"


def malformed_email(email: str | None, kind: int) -> str:
    """Emails as legacy forms let them through."""
    email = email or "unknown@example.com"
    local, _, domain = email.partition("@")
    return (f"{local}@@{domain}", f"{local}.{domain}", f"{local}@", f"{local}@{domain}.")[kind % 4]


def blank(rng: np.random.Generator, values: np.ndarray, p: float) -> None:
    values[pick(rng, len(values), p)] = None


def abbreviate_street(line: str, upper: int) -> str:
    for word, short in _STREET_ABBREVIATIONS.items():
        if line.endswith(word):
            line = line[: -len(word)] + short
            break
    return line.upper() if upper else line


def vary_addresses(rng: np.random.Generator, line1: np.ndarray, p: float) -> None:
    where = pick(rng, len(line1), p)
    apply(line1, where, abbreviate_street, (rng.random(len(where)) < 0.2).astype(int))


def vary_postcodes(rng: np.random.Generator, postcode: np.ndarray, country: np.ndarray, p: float):
    """Spreadsheets drop US leading zeros; people add ZIP+4 or drop the space in UK codes."""
    where = pick(rng, len(postcode), p)
    extra = rng.integers(1000, 9999, len(where))
    apply(postcode, where, _vary_postcode, country, extra)


def _vary_postcode(code: str | None, country: str, extra: int) -> str | None:
    if code is None:
        return None
    if country == "US":
        return code.lstrip("0") if code.startswith("0") else f"{code}-{extra}"
    if country in ("GB", "CA", "NL"):
        return code.replace(" ", "").lower()
    return code


# National significant number -> rendered phone, per country, in a fixed order of styles:
# 0 national pretty, 1 international pretty, 2 E.164, 3 digits only, 4 a local habit.
_PHONE_STYLES: dict[str, tuple[Callable[[str], str], ...]] = {
    "US": (
        lambda d: f"({d[:3]}) {d[3:6]}-{d[6:]}",
        lambda d: f"+1 {d[:3]}-{d[3:6]}-{d[6:]}",
        lambda d: f"+1{d}",
        lambda d: d,
        lambda d: f"{d[:3]}.{d[3:6]}.{d[6:]}",
    ),
    "GB": (
        lambda d: f"0{d[:4]} {d[4:]}",
        lambda d: f"+44 {d[:4]} {d[4:]}",
        lambda d: f"+44{d}",
        lambda d: f"0{d}",
        lambda d: f"+44 (0){d[:4]} {d[4:]}",
    ),
    "DE": (
        lambda d: f"0{d[:3]} {d[3:]}",
        lambda d: f"+49 {d[:3]} {d[3:]}",
        lambda d: f"+49{d}",
        lambda d: f"0{d}",
        lambda d: f"0{d[:3]}/{d[3:]}",
    ),
    "FR": (
        lambda d: "0" + d[0] + " " + " ".join(d[i : i + 2] for i in range(1, 9, 2)),
        lambda d: "+33 " + d[0] + " " + " ".join(d[i : i + 2] for i in range(1, 9, 2)),
        lambda d: f"+33{d}",
        lambda d: f"0{d}",
        lambda d: "0" + d[0] + "." + ".".join(d[i : i + 2] for i in range(1, 9, 2)),
    ),
    "NL": (
        lambda d: f"0{d[0]}-{d[1:]}",
        lambda d: f"+31 {d[0]} {d[1:]}",
        lambda d: f"+31{d}",
        lambda d: f"0{d}",
        lambda d: f"0{d[0]} {d[1:3]} {d[3:6]} {d[6:]}",
    ),
}
_PHONE_STYLES["CA"] = _PHONE_STYLES["US"]


def format_phones(
    rng: np.random.Generator,
    country: np.ndarray,
    digits: np.ndarray,
    style_weights: tuple[float, ...],
) -> np.ndarray:
    """Render national numbers in the styles a source's users type (weights over 5 styles)."""
    weights = np.asarray(style_weights, dtype=float)
    style = rng.choice(len(weights), len(digits), p=weights / weights.sum())
    out = np.empty(len(digits), dtype=object)
    for code, styles in _PHONE_STYLES.items():
        in_country = country == code
        for s, render in enumerate(styles):
            where = np.flatnonzero(in_country & (style == s))
            out[where] = [render(d) for d in digits[where]]
    return out


_CALLING_CODES = {"US": "+1", "CA": "+1", "GB": "+44", "DE": "+49", "FR": "+33", "NL": "+31"}


def e164(country: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """The clean form ground truth keeps."""
    out = np.empty(len(digits), dtype=object)
    out[:] = [_CALLING_CODES[c] + d for c, d in zip(country, digits, strict=True)]
    return out


# --- broken records ---------------------------------------------------------------------------

BROKEN_SHARE = 0.01


@dataclass(frozen=True)
class Breakage:
    """One way a table's rows break: the reason recorded in the truth and the column it hits
    (`date_format` for dates a source keeps as text)."""

    reason: str
    column: str
    date_format: str | None = None


def break_records(
    rng: np.random.Generator,
    frame: pd.DataFrame,
    plans: tuple[Breakage, ...],
    as_of: pd.Timestamp,
    share: float = BROKEN_SHARE,
) -> np.ndarray:
    """Break a share of rows in place (one defect each); return the reason per row (or None)."""
    reasons = np.full(len(frame), None, dtype=object)
    if not plans:
        return reasons
    rows = pick(rng, len(frame), share)
    plan_of = rng.integers(0, len(plans), len(rows))
    for k, plan in enumerate(plans):
        where = rows[plan_of == k]
        if len(where) == 0:
            continue
        reasons[where] = plan.reason
        column = frame[plan.column]
        broken = _BREAKERS[plan.reason](rng, column.iloc[where], plan, as_of)
        if column.dtype != object:
            frame.iloc[where, frame.columns.get_loc(plan.column)] = broken
        else:
            values = column.to_numpy(dtype=object, copy=True)
            values[where] = objects(broken)
            frame[plan.column] = values
    return reasons


def _future(rng, values: pd.Series, plan: Breakage, as_of: pd.Timestamp):
    days = rng.integers(30, 2000, len(values))
    future = as_of.floor("D") + pd.to_timedelta(days, unit="D")
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return future
    if plan.date_format:
        return [d.strftime(plan.date_format) for d in future]
    return [d.date() for d in future]


def _impossible_date(rng, values: pd.Series, plan: Breakage, as_of: pd.Timestamp):
    years = rng.integers(1950, 2000, len(values))
    days = rng.integers(30, 32, len(values))
    if plan.date_format == "%Y-%m-%d":
        return [f"{y}-02-{d}" for y, d in zip(years, days, strict=True)]
    return [f"{d}/02/{y}" for y, d in zip(years, days, strict=True)]


def _wrong_type(rng, values: pd.Series, plan: Breakage, as_of: pd.Timestamp):
    """A European decimal comma where a number belongs."""
    return [f"{float(v):.2f}".replace(".", ",") for v in values]


def _negative(rng, values: pd.Series, plan: Breakage, as_of: pd.Timestamp):
    return -np.abs(values.to_numpy(dtype=float if values.dtype == object else values.dtype))


def _missing(rng, values: pd.Series, plan: Breakage, as_of: pd.Timestamp):
    return [[] if isinstance(v, list) else None for v in values]


def _malformed(rng, values: pd.Series, plan: Breakage, as_of: pd.Timestamp):
    kinds = rng.integers(0, 4, len(values))
    return [malformed_email(v, k) for v, k in zip(values, kinds, strict=True)]


_BREAKERS = {
    "future_date": _future,
    "bad_date": _impossible_date,
    "amount_wrong_type": _wrong_type,
    "negative_amount": _negative,
    "missing_id": _missing,
    "malformed_email": _malformed,
}
