"""Tunable knobs of identity resolution, with defaults meant to hold from 10k to 1M records.

Nothing here is fitted to any ground truth: probabilities come from a model estimated on the
data being resolved, so the thresholds are statements about probability ("link when a pair is
more likely the same person than not"), not about one data set.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Blocking rules: each is a tuple of match-key columns that must all agree (and be present).
DEFAULT_BLOCKING_RULES: tuple[tuple[str, ...], ...] = (
    ("email",),
    ("phone",),
    ("link_id",),
    ("email_local",),
    ("names_ph", "email_domain"),
    ("names_ph", "postcode"),
    ("names_ph", "dob"),
    ("last_ph", "dob", "postcode"),
    ("names_ph", "city"),
    ("names_ph",),
    # Without a shared identifier, pairs of typo-tolerant keys: each rule survives a typo in
    # any field it does not use, and together they survive one in every field.
    ("first_ph", "dob"),
    ("last_ph", "dob"),
    ("names_ph", "dob_ym"),
    ("names_ph", "dob_yd"),
    ("names_ph", "dob_md"),
    ("first_tail", "last_tail"),
    ("first_tail", "dob"),
    ("last_tail", "dob"),
    ("dob", "postcode"),
    ("dob", "house_number"),
    ("dob", "city"),
    ("dob_md", "postcode_area"),
    ("house_number", "street"),
    ("house_number", "postcode", "last_ph"),
    ("house_number", "postcode", "first_ph"),
    ("street", "last_ph"),
    ("street", "first_ph"),
    ("dob",),
)


@dataclass(frozen=True)
class ResolutionSettings:
    """How candidates are found, scored, accepted and clustered."""

    blocking_rules: tuple[tuple[str, ...], ...] = DEFAULT_BLOCKING_RULES
    #: An identifier (email, phone, link id) held by more records than this is a shared value
    #: (info@, a switchboard number): it neither blocks nor counts as evidence.
    max_records_per_identifier: int = 12
    #: A blocking group larger than this is skipped: its pairs are namesakes, not duplicates,
    #: and it would grow quadratically with data size.
    max_block_size: int = 12
    #: Calibrated probability at which a candidate pair becomes a link: the Bayes decision
    #: for equal costs ("more likely the same person than not"); the clustering guards and
    #: the strong-link rule then protect the merges that matter most.
    link_threshold: float = 0.5
    #: A link between records with conflicting strong identifiers (different birth dates,
    #: different link ids) needs at least this probability; weaker links never bridge a
    #: conflict, and birth-date conflicts are never bridged through a chain (see clustering).
    #: 0.99, not 0.999: a birth date typed wholly wrong is as common as namesakes who share
    #: an address (FEBRL recall +0.02 at equal precision; sandbox precision -0.0006).
    strong_link_threshold: float = 0.99
    #: Over-merge guards: a cluster above any of these is split greedily.
    max_cluster_size: int = 30
    max_emails_per_profile: int = 6
    max_phones_per_profile: int = 6
    #: At most this many record pairs, drawn by a hash of their keys (stable under
    #: additions), estimate how often non-matches agree by chance (u).
    u_sample_pairs: int = 300_000
    em_max_iterations: int = 40
    em_tolerance: float = 1e-5
    #: Fields whose exact agreement is weighted by the frequency of the agreed value.
    term_frequency_fields: tuple[str, ...] = ("first_name", "last_name", "dob", "location")
