"""Records without email or phone (partner and offline-store files): blocking finds typo'd
duplicates without a shared exact key, and the engine links them from names, address and
birth date alone."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from profile_assets.identity import blocking_recall, pairwise_metrics, resolve_records
from profile_assets.identity.engine import candidate_record_pairs
from profile_assets.sandbox.partner_records import partner_records


@pytest.fixture(scope="module")
def partner():
    from profile_assets.sandbox.world import generate_world

    return partner_records(generate_world(3000, seed=3).people, share=0.5, seed=5)


@pytest.fixture(scope="module")
def partner_result(partner):
    return resolve_records(partner[0])


def test_partner_records_have_no_email_or_phone(partner):
    records, truth = partner
    assert not {"email", "phone"} & set(records.columns)
    assert truth.groupby("person_id").size().max() > 1


def test_blocking_finds_typo_duplicates_without_a_shared_key(partner):
    records, truth = partner
    measured = blocking_recall(candidate_record_pairs(records), truth)
    assert measured["blocking_recall"] >= 0.99
    # bounded: a few candidates per record, not a share of all n^2 pairs
    assert measured["candidate_pairs"] <= 10 * len(records)


def test_resolve_without_email_links_typo_duplicates(partner, partner_result):
    metrics = pairwise_metrics(partner_result.identity_map, partner[1])
    assert metrics["precision"] >= 0.98
    assert metrics["recall"] >= 0.95


def test_absent_fields_contribute_nothing_to_evidence(partner_result):
    evidence = [json.loads(e) for e in partner_result.identity_map["evidence"] if e != "{}"]
    assert evidence
    compared = {field["field"] for e in evidence for field in e["fields"]}
    assert {"first_name", "last_name", "dob", "location"} <= compared
    assert not {"email", "phone", "link_id"} & compared


def test_blocking_recall_counts_true_pairs_among_candidates():
    truth = pd.DataFrame({"source": "s", "source_id": ["a", "b", "c", "d"],
                          "person_id": [1, 1, 1, 2]})  # fmt: skip
    candidates = pd.DataFrame(
        {"left_source": "s", "left_record_id": ["a", "c"], "right_source": "s",
         "right_record_id": ["b", "d"]}
    )  # fmt: skip
    measured = blocking_recall(candidates, truth)
    assert measured["true_pairs"] == 3
    assert measured["blocking_recall"] == pytest.approx(1 / 3, abs=1e-4)
