"""Previews in asset metadata never carry personal data unless a developer asks for it."""

import pandas as pd
import pytest

from profile_assets.privacy.preview import is_personal, preview_markdown

PEOPLE = pd.DataFrame(
    {
        "profile_id": ["P0001"],
        "full_name": ["Ana Lopez"],
        "email": ["ana.lopez@example.com"],
        "phone": ["+14155550123"],
        "record_count": [3],
    }
)


def test_personal_columns_are_recognized_by_name_and_ids_are_not():
    assert all(map(is_personal, ["email", "E-mail", "first_name", "address_line1", "postcode"]))
    assert all(map(is_personal, ["date_of_birth", "phone", "payload"]))
    assert not any(map(is_personal, ["profile_id", "email_key", "record_count", "sources"]))


def test_masked_preview_keeps_ids_and_shape_but_no_personal_value():
    text = preview_markdown(PEOPLE)
    assert "P0001" in text and "3" in text
    for value in ("Ana", "Lopez", "ana.lopez", "example", "4155550123"):
        assert value not in text
    assert "a**.l****@e******.c**" in text


def test_failure_samples_mask_bad_values_of_personal_columns_only():
    cases = pd.DataFrame(
        {"column": ["email", "orders_count"], "check": ["valid", "ge(0)"],
         "failure_case": ["ana@@example.com", "-3"]}
    )  # fmt: skip
    text = preview_markdown(cases)
    assert "ana@@example" not in text and "-3" in text


def test_full_and_off_modes(monkeypatch):
    monkeypatch.setenv("PROFILE_ASSETS_METADATA_PREVIEW", "full")
    assert "ana.lopez@example.com" in preview_markdown(PEOPLE)
    monkeypatch.setenv("PROFILE_ASSETS_METADATA_PREVIEW", "off")
    assert "P0001" not in preview_markdown(PEOPLE)
    monkeypatch.setenv("PROFILE_ASSETS_METADATA_PREVIEW", "everything")
    with pytest.raises(ValueError, match="PROFILE_ASSETS_METADATA_PREVIEW"):
        preview_markdown(PEOPLE)
