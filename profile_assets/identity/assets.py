"""Identity assets (group `identity`, schema `identity`): staging.contacts -> profile ids.

One step resolves every live person record with the identity engine and publishes
- `identity.identity_map`: source, source_record_id, profile_id, match_rule,
  match_probability, evidence (+ `record_hash`, the fingerprint of the fields matched on);
- `identity.match_links`: accepted links and the links a guard refused, with the reason;
- `identity.resolution_events`: merges and splits against the previous map, with reasons
  (appended per run).

Stable ids: the previous map is handed to the engine, which carries ids forward. Overrides:
the reviewed `schemas/identity_overrides.yaml` is read on every run, so an unmerge
(never-link) takes effect on the next run. Incremental: when no record was added, changed or
removed and the overrides did not change, nothing is re-resolved. Otherwise a full rebuild
(`resolve_records`: model estimated afresh, stored in `identity.resolution_state`) runs when
asked (`full_rebuild: true`), on the first run, or when the overrides file, the engine
settings or the population size (by `MAX_POPULATION_DRIFT`) changed since the stored model;
else an incremental run (`resolve_incremental`) re-resolves only the new/changed/removed
records and the profiles they touch, with the stored model, and leaves every other row as it
was. The metadata says which mode ran and how many
records were re-resolved. Downstream, golden profiles are rebuilt only for touched profiles.

Ground truth is never an input: when the `ground_truth` resource has one (only the `sandbox`
environment provides it), pairwise precision/recall/F1 are computed afterwards and reported
as metadata only.
"""

import hashlib
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from profile_assets.contracts.asset_checks import pandera_table_check
from profile_assets.contracts.schema import RECORD_KEY, SCHEMAS_DIR
from profile_assets.identity.engine import resolve_records
from profile_assets.identity.evidence import RULE_MODEL, RULE_MUST_LINK, RULE_SINGLETON
from profile_assets.identity.ground_truth import GroundTruth
from profile_assets.identity.incremental import resolve_incremental
from profile_assets.identity.metrics import pairwise_metrics
from profile_assets.identity.results import ResolutionResult, ResolutionState
from profile_assets.identity.settings import ResolutionSettings
from profile_assets.privacy.preview import preview_markdown
from profile_assets.privacy.suppression import SUPPRESSIONS_TABLE, filter_suppressed
from profile_assets.staging.tables import PERSON_FIELDS
from profile_assets.warehouse import Warehouse, WarehouseConnection

GROUP = "identity"
CONTACTS_TABLE = "staging.contacts"
IDENTITY_MAP = "identity.identity_map"
MATCH_LINKS = "identity.match_links"
RESOLUTION_EVENTS = "identity.resolution_events"
RESOLUTION_RUNS = "identity.resolution_runs"
RESOLUTION_STATE = "identity.resolution_state"
OVERRIDES_PATH = SCHEMAS_DIR / "identity_overrides.yaml"
#: Contact columns the engine matches on; a change in any of them re-resolves the record.
MATCH_COLUMNS = [*PERSON_FIELDS, "storefront_customer_id"]
PREVIEW_ROWS = 5


class IdentityConfig(Config):
    full_rebuild: bool = Field(
        default=False,
        description="Re-estimate the model and re-resolve every record, even if nothing changed "
        "(otherwise only changed records and the profiles they touch are re-resolved).",
    )
    overrides_path: str = Field(
        default=str(OVERRIDES_PATH), description="Reviewed must-link / never-link YAML."
    )


# --------------------------------------------------------------------------- pure helpers
def live_contacts(contacts: pd.DataFrame, suppressions: pd.DataFrame | None) -> pd.DataFrame:
    """Contacts that may be matched: not deleted in their source, not erased (suppressed)."""
    alive = contacts[~contacts["is_deleted"].fillna(False).astype(bool)]
    return filter_suppressed(alive, suppressions).reset_index(drop=True)


def person_records(contacts: pd.DataFrame) -> pd.DataFrame:
    """staging.contacts in the engine's canonical shape (`record_id`, `link_id`, person fields).

    The storefront customer id is the link id: every source that knows it (the shop itself,
    the CRM property, the help desk's external id) names the same account with it.
    """
    records = pd.DataFrame(
        {"source": contacts["source"].astype(str), "record_id": contacts["source_record_id"]}
    )
    for column in PERSON_FIELDS:
        records[column] = contacts[column].astype(object).where(contacts[column].notna(), None)
    dob = pd.to_datetime(contacts["date_of_birth"], errors="coerce")
    records["date_of_birth"] = dob.dt.strftime("%Y-%m-%d").where(dob.notna(), None)
    records["link_id"] = contacts["storefront_customer_id"].astype(object)
    return records


def record_hashes(contacts: pd.DataFrame) -> pd.Series:
    """A fingerprint (int64) of each record's matched fields: equal iff nothing matched on
    changed, whatever the column dtypes."""
    as_text = contacts[MATCH_COLUMNS].astype(str)
    return pd.util.hash_pandas_object(as_text, index=False).astype("int64")


def changed_records(current: pd.DataFrame, previous: pd.DataFrame | None) -> dict[str, set]:
    """Record keys (source, id) new, changed or removed since `previous` (both frames:
    source, source_record_id, record_hash)."""
    now = _keyed_hashes(current)
    before = _keyed_hashes(previous) if previous is not None else pd.Series(dtype="int64")
    common = now.index.intersection(before.index)
    changed = common[now.loc[common].to_numpy() != before.loc[common].to_numpy()]
    return {
        "new": set(now.index.difference(before.index)),
        "changed": set(changed),
        "removed": set(before.index.difference(now.index)),
    }


def _keyed_hashes(frame: pd.DataFrame) -> pd.Series:
    index = pd.MultiIndex.from_arrays([frame["source"].astype(str), frame["source_record_id"]])
    return pd.Series(frame["record_hash"].to_numpy(), index=index)


def touched_profiles(
    new_map: pd.DataFrame, previous: pd.DataFrame | None, changes: dict[str, set]
) -> set[str]:
    """Profiles (old and new ids) holding a new, changed or removed record, or whose
    membership changed (merges and splits move unchanged records too)."""
    keys = changes["new"] | changes["changed"] | changes["removed"]
    new_index = pd.MultiIndex.from_frame(new_map[RECORD_KEY])
    touched = set(new_map.loc[new_index.isin(keys), "profile_id"])
    if previous is not None and len(previous):
        joined = previous[[*RECORD_KEY, "profile_id"]].merge(
            new_map[[*RECORD_KEY, "profile_id"]], on=RECORD_KEY, how="outer",
            suffixes=("_old", "_new"),
        )  # fmt: skip
        moved = joined[joined["profile_id_old"].ne(joined["profile_id_new"])]
        touched |= set(moved["profile_id_old"].dropna()) | set(moved["profile_id_new"].dropna())
        old_index = pd.MultiIndex.from_frame(previous[RECORD_KEY])
        touched |= set(previous.loc[old_index.isin(keys), "profile_id"])
    return touched


def match_links_frame(result: ResolutionResult) -> pd.DataFrame:
    """Accepted and refused links in one table, so the UI can show why two records did or did
    not end up together."""
    accepted = result.links.assign(
        status=result.links["forced"].map({True: "must_link", False: "accepted"}), reason=None
    ).drop(columns="forced")
    refused = result.refused_links.assign(status="refused")
    frames = [f for f in (accepted, refused) if len(f)]
    if not frames:
        return accepted
    out = pd.concat(frames, ignore_index=True)
    out["reason"] = out["reason"].astype(object)
    return out


def match_rate(identity_map: pd.DataFrame) -> float:
    """Share of records linked to at least one other record."""
    if identity_map.empty:
        return 0.0
    sizes = identity_map.groupby("profile_id")["profile_id"].transform("size")
    return round(float((sizes > 1).mean()), 4)


def overrides_digest(path: str | Path) -> str:
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "none"


MODE_FULL, MODE_INCREMENTAL, MODE_UNCHANGED = "full", "incremental", "unchanged"


def plan(
    changes: dict[str, set],
    *,
    has_previous: bool,
    overrides_same: bool,
    has_stored_model: bool,
    full_rebuild: bool,
) -> str:
    """Which run the asset makes: `unchanged` when nothing it matches on moved (no record
    added, changed or removed, same overrides), `full` when the model must be estimated
    afresh (asked for, first run, new overrides, or no stored model for these settings and
    this population size), else `incremental` (only the changed records and their profiles).
    """
    if not full_rebuild and has_previous and overrides_same and not any(changes.values()):
        return MODE_UNCHANGED
    if full_rebuild or not has_previous or not overrides_same or not has_stored_model:
        return MODE_FULL
    return MODE_INCREMENTAL


def settings_digest(settings: ResolutionSettings) -> str:
    """Fingerprint of the engine settings: a stored model is reused only under the same."""
    return hashlib.sha256(repr(settings).encode()).hexdigest()[:16]


def incremental_links(
    previous: pd.DataFrame | None, result: ResolutionResult, removed: set
) -> pd.DataFrame:
    """match_links after an incremental run: the previous rows that touch no re-resolved or
    removed record, plus the links of the re-resolved records."""
    fresh = match_links_frame(result)
    if previous is None or previous.empty or result.re_resolved is None:
        return fresh
    re_resolved = result.re_resolved
    redone = set(zip(re_resolved["source"], re_resolved["source_record_id"], strict=True))
    redone |= removed

    def touches(side: str) -> pd.Series:
        pairs = zip(previous[f"{side}_source"], previous[f"{side}_record_id"], strict=True)
        return pd.Series([pair in redone for pair in pairs], index=previous.index)

    kept = previous[~(touches("left") | touches("right"))][fresh.columns]
    return pd.concat([f for f in (kept, fresh) if len(f)] or [fresh], ignore_index=True)


# --------------------------------------------------------------------------- warehouse I/O
def read_table(conn: WarehouseConnection, table: str) -> pd.DataFrame | None:
    return conn.query_df(f"SELECT * FROM {table}") if conn.table_exists(table) else None


def read_live_contacts(conn: WarehouseConnection) -> pd.DataFrame:
    contacts = conn.query_df(f"SELECT * FROM {CONTACTS_TABLE}")
    return live_contacts(contacts, read_table(conn, SUPPRESSIONS_TABLE))


def _last_overrides_digest(conn: WarehouseConnection) -> str | None:
    if not conn.table_exists(RESOLUTION_RUNS):
        return None
    return conn.scalar(
        f"SELECT overrides_digest FROM {RESOLUTION_RUNS} ORDER BY resolved_at DESC LIMIT 1"
    )


#: A stored model is re-estimated once the population has grown or shrunk by this share since
#: it was fitted: its prior (about 1/n) and value frequencies would otherwise drift.
MAX_POPULATION_DRIFT = 0.1


def _stored_state(conn: WarehouseConnection, digest: str, records: int) -> ResolutionState | None:
    """The model of the last full rebuild, if it was built with these settings on about this
    many records (`MAX_POPULATION_DRIFT`)."""
    if not conn.table_exists(RESOLUTION_STATE) or "records" not in conn.columns(RESOLUTION_STATE):
        return None
    row = conn.query_df(f"SELECT state, settings_digest, records FROM {RESOLUTION_STATE}")
    if row.empty or row["settings_digest"].iloc[0] != digest:
        return None
    built_on = int(row["records"].iloc[0])
    if abs(records - built_on) > MAX_POPULATION_DRIFT * built_on:
        return None
    return ResolutionState.from_json(row["state"].iloc[0])


def _state_row(
    result: ResolutionResult, digest: str, records: int, run_id: str, now
) -> pd.DataFrame:
    return pd.DataFrame(
        {"state": [result.state.to_json()], "settings_digest": [digest], "records": [records],
         "run_id": [run_id], "resolved_at": [now]}
    )  # fmt: skip


def _publish(
    conn: WarehouseConnection,
    identity_map: pd.DataFrame,
    links: pd.DataFrame,
    events: pd.DataFrame,
    run_row: pd.DataFrame,
    state_row: pd.DataFrame | None,
) -> None:
    """Map, links, events, the run and the stored model commit together or not at all."""
    with conn.unit_of_work() as unit:
        unit.replace(identity_map, IDENTITY_MAP, exact_columns=True)
        unit.replace(_text_columns(links), MATCH_LINKS, exact_columns=True)
        # Written even when empty: the table (and its check) exists from the first run.
        unit.append(_text_columns(events), RESOLUTION_EVENTS)
        unit.append(run_row, RESOLUTION_RUNS)
        if state_row is not None:
            unit.replace(state_row, RESOLUTION_STATE, exact_columns=True)


def _text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns as pandas strings, so an empty frame still creates VARCHAR columns."""
    text = frame.select_dtypes(include="object").columns
    return frame.astype({c: "string" for c in text})


# --------------------------------------------------------------------------- the asset
IDENTITY_MAP_KEY = AssetKey(["identity", "identity_map"])
MATCH_LINKS_KEY = AssetKey(["identity", "match_links"])
RESOLUTION_EVENTS_KEY = AssetKey(["identity", "resolution_events"])
_SPECS = [
    AssetSpec(
        IDENTITY_MAP_KEY,
        deps=[AssetKey(["staging", "contacts"])],
        group_name=GROUP,
        kinds={"pandas"},
        description="Which profile each source person record belongs to, and why.",
        metadata={"dagster/table_name": IDENTITY_MAP, "primary_key": "source, source_record_id"},
    ),
    AssetSpec(
        MATCH_LINKS_KEY,
        deps=[AssetKey(["staging", "contacts"])],
        group_name=GROUP,
        kinds={"pandas"},
        description="Record pairs linked (accepted, must_link) or refused by a guard (reason).",
        metadata={"dagster/table_name": MATCH_LINKS},
    ),
    AssetSpec(
        RESOLUTION_EVENTS_KEY,
        deps=[AssetKey(["staging", "contacts"])],
        group_name=GROUP,
        kinds={"pandas"},
        description="Profile merges and splits against the previous run, with their reason.",
        metadata={"dagster/table_name": RESOLUTION_EVENTS},
    ),
]


@multi_asset(specs=_SPECS, can_subset=False, name="identity_resolution")
def identity_resolution(
    context: AssetExecutionContext,
    config: IdentityConfig,
    warehouse: Warehouse,
    ground_truth: GroundTruth,
):
    run_id = context.run.run_id
    now = pd.Timestamp.now(tz="UTC")
    settings = ResolutionSettings()
    with warehouse.connection() as conn:
        contacts = read_live_contacts(conn)
        contacts["record_hash"] = record_hashes(contacts)
        previous = read_table(conn, IDENTITY_MAP)
        changes = changed_records(contacts, previous)
        digest = overrides_digest(config.overrides_path)
        state = _stored_state(conn, settings_digest(settings), len(contacts))
        mode = plan(
            changes,
            has_previous=previous is not None,
            overrides_same=digest == _last_overrides_digest(conn),
            has_stored_model=state is not None,
            full_rebuild=config.full_rebuild,
        )
        if mode == MODE_UNCHANGED:
            context.log.info("no person record changed since the last run: nothing re-resolved")
            yield from _results(
                previous, None, changes, set(), digest, re_resolved=0, mode=mode,
                ground_truth=ground_truth,
            )  # fmt: skip
            return
        records = person_records(contacts)
        if mode == MODE_FULL:
            result = resolve_records(
                records, previous_map=previous, overrides=config.overrides_path, settings=settings
            )
            links = match_links_frame(result)
        else:
            edited = pd.DataFrame(list(changes["changed"]), columns=["source", "record_id"])
            result = resolve_incremental(
                records, edited, previous, state, overrides=config.overrides_path,
                settings=settings,
            )  # fmt: skip
            links = incremental_links(read_table(conn, MATCH_LINKS), result, changes["removed"])
        identity_map = result.identity_map.assign(record_hash=contacts["record_hash"].to_numpy())
        events = result.events.astype({"record_count": "int64"}).assign(
            run_id=run_id, resolved_at=now
        )
        run_row = pd.DataFrame(
            {"run_id": [run_id], "resolved_at": [now], "mode": [mode],
             "records": [len(identity_map)], "overrides_digest": [digest]}
        )  # fmt: skip
        state_row = (
            _state_row(result, settings_digest(settings), len(contacts), run_id, now)
            if mode == MODE_FULL
            else None
        )
        _publish(conn, identity_map, links, events, run_row, state_row)
    touched = touched_profiles(identity_map, previous, changes)
    re_resolved = result.stats["re_resolved_records"]
    yield from _results(
        identity_map, result, changes, touched, digest, re_resolved=re_resolved, mode=mode,
        ground_truth=ground_truth,
    )  # fmt: skip


def _results(
    identity_map: pd.DataFrame,
    result: ResolutionResult | None,
    changes: dict[str, set],
    touched: set[str],
    digest: str,
    *,
    re_resolved: int,
    mode: str,
    ground_truth: GroundTruth,
):
    common = {
        "mode": mode,
        "records": len(identity_map),
        "profiles": int(identity_map["profile_id"].nunique()),
        "re_resolved_records": re_resolved,
        "records_changed": MetadataValue.json({k: len(v) for k, v in changes.items()}),
        "touched_profiles": len(touched),
        "overrides_digest": digest,
    }
    quality = _quality(identity_map, ground_truth)
    map_meta = {
        "dagster/row_count": len(identity_map),
        "match_rate": match_rate(identity_map),
        **common,
        **quality,
        "preview": MetadataValue.md(
            preview_markdown(identity_map.drop(columns="evidence"), PREVIEW_ROWS, index=True)
        ),
    }
    links_meta, events_meta = dict(common), dict(common)
    if result is not None:
        stats = result.stats
        map_meta["model"] = MetadataValue.json(stats["model"])
        map_meta["seconds"] = MetadataValue.json(stats["seconds"])
        map_meta["guarded_components"] = stats["guarded_components"]
        map_meta["scored_pairs"] = stats["scored_pairs"]
        links_meta |= {
            "dagster/row_count": len(result.links) + len(result.refused_links),
            "links": stats["links_accepted"],
            "must_links": stats["must_links"],
            "never_links": stats["never_links"],
            "refused_links_by_guard": MetadataValue.json(stats["links_refused"]),
            "shared_identifier_values_removed": MetadataValue.json(
                stats["shared_identifier_values_removed"]
            ),
            "overrides_not_found": stats["overrides_not_found"],
        }
        counts = result.events["event"].value_counts().to_dict()
        events_meta |= {
            "dagster/row_count": len(result.events),
            "merges": int(counts.get("merge", 0)),
            "splits": int(counts.get("split", 0)),
        }
    yield MaterializeResult(asset_key=IDENTITY_MAP_KEY, metadata=map_meta)
    yield MaterializeResult(asset_key=MATCH_LINKS_KEY, metadata=links_meta)
    yield MaterializeResult(asset_key=RESOLUTION_EVENTS_KEY, metadata=events_meta)


def _quality(identity_map: pd.DataFrame, ground_truth: GroundTruth) -> dict[str, object]:
    """Pairwise precision/recall/F1 against the sandbox's truth, when there is one."""
    truth = ground_truth.records()
    if truth is None:
        return {}
    metrics = pairwise_metrics(identity_map, truth)
    return {f"pairwise_{k}": v for k, v in metrics.items()}


IDENTITY_ASSETS = [identity_resolution]


# --------------------------------------------------------------------------- checks
_PROBABILITY = pa.Check.in_range(0.0, 1.0)


def identity_map_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "source": pa.Column(str),
            "source_record_id": pa.Column(str),
            "profile_id": pa.Column(str, pa.Check.str_startswith("P")),
            "match_rule": pa.Column(
                str, pa.Check.isin([RULE_SINGLETON, RULE_MUST_LINK, RULE_MODEL])
            ),
            "match_probability": pa.Column(float, _PROBABILITY),
            "evidence": pa.Column(str),
            "record_hash": pa.Column("int64"),
        },
        unique=RECORD_KEY,
        name="identity.identity_map",
    )


def match_links_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "left_source": pa.Column(str),
            "left_record_id": pa.Column(str),
            "right_source": pa.Column(str),
            "right_record_id": pa.Column(str),
            "probability": pa.Column(float, _PROBABILITY),
            "status": pa.Column(str, pa.Check.isin(["accepted", "must_link", "refused"])),
            "reason": pa.Column(str, nullable=True),
        },
        checks=pa.Check(
            lambda df: df["status"].ne("refused") | df["reason"].notna(),
            name="refused_links_have_a_reason",
        ),
        name="identity.match_links",
    )


def resolution_events_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "event": pa.Column(str, pa.Check.isin(["merge", "split"])),
            "profile_id": pa.Column(str),
            "related_profile_ids": pa.Column(str),
            "record_count": pa.Column("int64", pa.Check.ge(1)),
            "reason": pa.Column(str),
            "run_id": pa.Column(str),
        },
        name="identity.resolution_events",
    )


IDENTITY_CHECKS = [
    pandera_table_check(IDENTITY_MAP_KEY, IDENTITY_MAP, identity_map_schema, blocking=True),
    pandera_table_check(MATCH_LINKS_KEY, MATCH_LINKS, match_links_schema, blocking=False),
    pandera_table_check(
        RESOLUTION_EVENTS_KEY, RESOLUTION_EVENTS, resolution_events_schema, blocking=False
    ),
]
