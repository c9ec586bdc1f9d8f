"""Normalizers: the tricky inputs real customer records contain, and fast paths = library paths."""

import datetime as dt
import re

import email_validator
import numpy as np
import pandas as pd
import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from profile_assets.normalizers import (
    email_match_key,
    fold_key,
    name_phonetic_key,
    normalize_country,
    normalize_email,
    normalize_name,
    normalize_phone,
    normalize_postcode,
    split_full_name,
    to_utc,
)
from profile_assets.normalizers.phone import _fast_phone, _library_phone


def S(*values, dtype=object) -> pd.Series:
    return pd.Series(list(values), dtype=dtype)


# --------------------------------------------------------------------------- emails
def test_email_is_trimmed_nfkc_normalized_and_domain_lowercased_but_local_part_kept():
    out = normalize_email(S("  John.Smith@Example.COM ", "Ａｌｉｃｅ@Example.ORG", "bob@x.com."))
    assert out["email"].tolist() == ["John.Smith@example.com", "Alice@example.org", "bob@x.com"]
    assert out["email_valid"].tolist() == [True, True, True]
    assert out["email_reason"].tolist() == [None, None, None]


def test_idn_domain_normalizes_to_one_form_whether_written_in_unicode_or_punycode():
    out = normalize_email(S("anna@München.de", "anna@XN--MNCHEN-3YA.DE", "ä@münchen.de"))
    assert out["email"].tolist() == ["anna@münchen.de", "anna@münchen.de", "ä@münchen.de"]
    assert out["email_valid"].all()


def test_quoted_local_part_is_a_valid_address():
    out = normalize_email(S('"john doe"@example.com'))
    assert out["email_valid"].tolist() == [True]
    assert out["email"].tolist() == ['"john doe"@example.com']


def test_invalid_email_is_kept_flagged_with_a_reason_and_missing_is_not_invalid():
    out = normalize_email(S("bob@@x", "x@shop.test", "no-at-sign", None, "   "))
    assert out["email"].tolist() == ["bob@@x", "x@shop.test", "no-at-sign", None, None]
    assert out["email_valid"].tolist()[:3] == [False, False, False]
    assert out["email_valid"].isna().tolist()[3:] == [True, True]
    assert "special-use" in out["email_reason"][1]
    assert [r is None for r in out["email_reason"]] == [False, False, False, True, True]


TRICKY_EMAILS = [
    "plain@example.com", "a.b-c_d+tag@sub.example.co.uk", "x@b.c", "first.last@xn--bcher-kva.ch",
    "dots..double@example.com", ".lead@example.com", "trail.@example.com", "a@-bad.com",
    "a@bad-.com", "a@ex_ample.com", "a@example.123", "a@localhost", "a@example.local",
    "a@ab--cd.com", "ab@" + "x" * 64 + ".com", "l" * 65 + "@example.com", "o'brien@example.ie",
    "#!$%&'*+-/=?^_`{}|~@example.org", "a@example.onion", "a@[127.0.0.1]", "é@example.com",
]  # fmt: skip


def test_vectorized_fast_path_agrees_with_email_validator():
    out = normalize_email(pd.Series(TRICKY_EMAILS))
    for address, got, valid in zip(TRICKY_EMAILS, out["email"], out["email_valid"], strict=True):
        try:
            expected = email_validator.validate_email(
                address, check_deliverability=False, allow_quoted_local=True
            ).normalized
        except email_validator.EmailNotValidError:
            assert not valid, address
        else:
            assert valid and got == expected, address


def test_match_key_removes_what_each_provider_ignores_and_never_touches_the_address():
    emails = S(
        "John.Smith+news@GMail.com",
        "johnsmith@googlemail.com",
        "j.smith+orders@outlook.com",
        "j.smith+orders@company.com",
        "first.last@yahoo.com",
        "anna@münchen.de",
        "Anna@xn--mnchen-3ya.de",
        "bob@@x",
        None,
    )
    before = emails.copy()
    assert email_match_key(emails).tolist() == [
        "johnsmith@gmail.com",
        "johnsmith@gmail.com",
        "j.smith@outlook.com",
        "j.smith+orders@company.com",
        "first.last@yahoo.com",
        "anna@xn--mnchen-3ya.de",
        "anna@xn--mnchen-3ya.de",
        None,
        None,
    ]
    pd.testing.assert_series_equal(emails, before)


# --------------------------------------------------------------------------- phones
def test_national_and_international_formats_reach_the_same_e164():
    out = normalize_phone(
        S("(212) 555-0100", "212.555.0100", "+1 212-555-0100", "011 1 212 555 0100"), "US"
    )
    assert out["phone"].tolist() == ["+12125550100"] * 4
    assert out["phone_valid"].all()


def test_default_region_per_row_reads_national_numbers_in_their_country():
    phones = S("020 7946 0958", "030 901820", "06 12345678", "(212) 555-0100", "+33 1 42 68 53 00")
    regions = S("GB", "DE", "NL", None, "US")
    out = normalize_phone(phones, regions.fillna("US"))
    assert out["phone"].tolist() == [
        "+442079460958",
        "+4930901820",
        "+31612345678",
        "+12125550100",
        "+33142685300",
    ]


def test_vanity_number_is_read_as_keypad_digits():
    out = normalize_phone(S("1-800-FLOWERS", "+1 800 GOT JUNK"), "US")
    assert out["phone"].tolist() == ["+18003569377", "+18004685865"]


def test_extension_is_dropped_from_e164_but_kept_raw():
    out = normalize_phone(S("212-555-0100 ext. 42", "212.555.0100x7"), "US")
    assert out["phone"].tolist() == ["+12125550100", "+12125550100"]
    assert out["phone_raw"].tolist() == ["212-555-0100 ext. 42", "212.555.0100x7"]


def test_invalid_phone_is_kept_raw_and_flagged_and_missing_stays_missing():
    out = normalize_phone(S("12345", "+1 000 000 0000", "call me", None, " "), "US")
    assert out["phone"].tolist() == [None] * 5
    assert out["phone_raw"].tolist() == ["12345", "+1 000 000 0000", "call me", None, None]
    assert out["phone_valid"].tolist()[:3] == [False, False, False]
    assert out["phone_valid"].isna().tolist()[3:] == [True, True]


def _phone_samples() -> tuple[list[str], list[str]]:
    """Every region's example numbers in three formats, read from four default regions, plus
    perturbed and random digit strings (the inputs `_fast_phone` claims)."""
    rng = np.random.default_rng(5)
    numbers, regions = [], []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            for fmt in (PhoneNumberFormat.E164, PhoneNumberFormat.NATIONAL):
                text = phonenumbers.format_number(example, fmt)
                for default in (region, "US", "GB"):
                    numbers.append(text)
                    regions.append(default)
            e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
            i = int(rng.integers(2, len(e164)))
            numbers += [e164[:i] + str(rng.integers(10)) + e164[i + 1 :], e164[:-1], e164 + "1"]
            regions += [region] * 3
    for _ in range(3000):
        digits = "".join(map(str, rng.integers(0, 10, int(rng.integers(6, 16)))))
        numbers.append("+" + digits.lstrip("0") if rng.random() < 0.4 else digits)
        regions.append(str(rng.choice(["US", "GB", "DE", "FR", "NL", "CA", "IT", "BR", "AR"])))
    return [re.sub(r"[\s()./\-]", "", n) for n in numbers], regions


def test_fast_phone_path_agrees_with_phonenumbers_wherever_it_decides():
    numbers, regions = _phone_samples()
    decided = 0
    for number, region in zip(numbers, regions, strict=True):
        fast = _fast_phone(number, region)
        if fast is not None:
            decided += 1
            assert fast == _library_phone(number, region), (number, region)
    assert decided > 0.8 * len(numbers)  # the fast path carries the common case


# --------------------------------------------------------------------------- names
def test_names_get_case_whitespace_and_unicode_fixed():
    names = S(
        "  LUDWIG   VAN BEETHOVEN ",
        "mary o'neill-mcdonald",
        "JEAN DE LA FONTAINE",
        "MACKENZIE",
        "MACHADO",
        "ＪＯＨＮ mcdonald DeVito",
        "Zoë",
        None,
    )
    assert normalize_name(names).tolist() == [
        "Ludwig van Beethoven",
        "Mary O'Neill-McDonald",
        "Jean de la Fontaine",
        "MacKenzie",
        "Machado",
        "John McDonald DeVito",
        "Zoë",
        None,
    ]


def test_mixed_case_and_non_latin_names_are_kept_as_written():
    names = S("DeVito", "McDonald", "d'Artagnan", "иван петров", "山田 太郎", "김민준")
    assert normalize_name(names).tolist() == names.tolist()


def test_split_full_name_handles_particles_comma_form_titles_and_scripts():
    out = split_full_name(
        S(
            "Ludwig van Beethoven",
            "Beethoven, Ludwig van",
            "maria DE LA cruz",
            "Dr. John Smith Jr.",
            "Smith, John, Jr.",
            "Mary Ann Smith-Jones",
            "Madonna",
            "Иван Петров",
            "山田 太郎",
            "王小明",
            None,
        )
    )
    assert list(zip(out["first_name"], out["last_name"], strict=True)) == [
        ("Ludwig", "van Beethoven"),
        ("Ludwig", "van Beethoven"),
        ("Maria", "de la Cruz"),
        ("John", "Smith"),
        ("John", "Smith"),
        ("Mary Ann", "Smith-Jones"),
        ("Madonna", None),
        ("Иван", "Петров"),
        ("太郎", "山田"),
        (None, None),
        (None, None),
    ]


def test_split_last_name_equals_the_normalized_last_name_field():
    split = split_full_name(S("LUDWIG VAN BEETHOVEN", "sean o'neill"))
    assert split["last_name"].tolist() == normalize_name(S("van beethoven", "O'NEILL")).tolist()


def test_phonetic_key_groups_spelling_variants_and_skips_particles():
    keys = name_phonetic_key(
        S("Smith", "Smyth", "Schmidt", "Robert", "Rupert", "Ashcraft", "Tymczak", "Pfister")
    )
    assert keys.tolist() == ["S530", "S530", "S530", "R163", "R163", "A261", "T522", "P236"]
    more = name_phonetic_key(S("van Beethoven", "Beethoven", "Müller", "Muller", "Петров", None))
    assert more.tolist() == ["B315", "B315", "M460", "M460", "петров", None]


# --------------------------------------------------------------------------- places
def test_country_codes_names_and_aliases_resolve_to_alpha2():
    values = S(
        "USA", "U.K.", "Deutschland", "the Netherlands", "gb", "DEU", "United States",
        "Türkiye", "Turkey", " españa ", "Côte d'Ivoire", "Narnia", None,
    )  # fmt: skip
    assert normalize_country(values).tolist() == [
        "US", "GB", "DE", "NL", "GB", "DE", "US", "TR", "TR", "ES", "CI", None, None,
    ]  # fmt: skip


def test_postcodes_are_normalized_per_country():
    codes = S("12345-6789", "2134", "sw1a1aa", "ec1a 1bb", "1234ab", "k1a0b1", "1067", "D-10115",
              "75008", "not a zip", None)  # fmt: skip
    countries = S("US", "US", "GB", "GB", "NL", "CA", "DE", "DE", "FR", "US", "US")
    assert normalize_postcode(codes, countries).tolist() == [
        "12345", "02134", "SW1A 1AA", "EC1A 1BB", "1234 AB", "K1A 0B1", "01067", "10115",
        "75008", "NOT A ZIP", None,
    ]  # fmt: skip


def test_fold_key_ignores_case_accents_spaces_and_punctuation():
    assert {fold_key(x) for x in ("E-mail", "e mail", "EMAIL", "É-Mail")} == {"email"}


# --------------------------------------------------------------------------- timestamps
NY = "America/New_York"


def utc(*stamps: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(s, tz="UTC") for s in stamps]


def test_spring_forward_gap_keeps_the_offset_from_before_the_jump():
    # 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 never happened on New York clocks.
    naive = pd.Series(
        pd.to_datetime(["2026-03-08 01:59:59", "2026-03-08 02:30:00", "2026-03-08 03:00:00"])
    )
    assert to_utc(naive, NY).tolist() == utc(
        "2026-03-08 06:59:59", "2026-03-08 07:30", "2026-03-08 07:00"
    )


def test_fall_back_overlap_takes_the_first_occurrence():
    # 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice; the first one is EDT (UTC-4).
    naive = pd.Series(pd.to_datetime(["2026-11-01 00:30", "2026-11-01 01:30", "2026-11-01 02:00"]))
    assert to_utc(naive, NY).tolist() == utc(
        "2026-11-01 04:30", "2026-11-01 05:30", "2026-11-01 07:00"
    )


def test_london_naive_times_respect_bst():
    naive = S("2026-01-15 12:00:00", "2026-07-15 12:00:00", "2026-03-29 01:30:00")
    assert to_utc(naive, "Europe/London").tolist() == utc(
        "2026-01-15 12:00", "2026-07-15 11:00", "2026-03-29 01:30"
    )


def test_aware_values_are_converted_and_naive_ones_localized_in_one_series():
    values = S(
        "2026-01-01T10:00:00Z",
        "2026-07-01T12:00:00.250+02:00",
        "2026-07-01 12:00:00",
        "2026-05-01",
        dt.datetime(2026, 1, 1, 5, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 1, 5),
        "not a time",
        None,
    )
    assert to_utc(values, NY).tolist() == [
        *utc("2026-01-01 10:00", "2026-07-01 10:00:00.250", "2026-07-01 16:00", "2026-05-01 04:00"),
        *utc("2026-01-01 05:00", "2026-01-01 10:00"),
        pd.NaT,
        pd.NaT,
    ]


@pytest.mark.parametrize("unit", ["ns", "us"])
def test_aware_datetime_columns_of_any_zone_and_unit_become_utc_ns(unit):
    aware = pd.Series(pd.to_datetime(["2026-06-01T12:00Z"]).tz_convert("Asia/Tokyo").as_unit(unit))
    out = to_utc(aware, NY)
    assert str(out.dtype) == "datetime64[ns, UTC]"
    assert out.tolist() == utc("2026-06-01 12:00")
