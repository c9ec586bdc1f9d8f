"""The snapshot: atomic swaps under concurrent readers, incremental upserts equal to a full
rebuild, old files cleaned up, and erasure taking a person out of the live snapshot at once."""

import threading

import orjson
import pytest

from profile_assets.serving.erasure import erase_everywhere
from profile_assets.serving.lookup import SnapshotReader
from profile_assets.serving.record import SnapshotFrames, build_snapshot_frames
from profile_assets.serving.snapshot import content, current_path, publish
from profile_assets_tests.serving_support import built_warehouse, inputs_of


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return built_warehouse(tmp_path_factory)


@pytest.fixture(scope="module")
def frames(warehouse):
    return build_snapshot_frames(inputs_of(warehouse))


def _marked(frames: SnapshotFrames, marker: int) -> SnapshotFrames:
    """The same profiles with `marker` in every record, so a read tells which build it saw."""
    bodies = [
        body[:-1] + b',"build":' + str(marker).encode() + b"}" for body in frames.records["record"]
    ]
    records = frames.records.assign(
        record=bodies, etag=[f"{marker}-{e}" for e in frames.records["etag"]]
    )
    return SnapshotFrames(records=records, keys=frames.keys)


def test_readers_see_whole_snapshots_and_nothing_stale_after_a_swap(frames, tmp_path):
    publish(_marked(frames, 0), tmp_path, full_rebuild=True)
    reader = SnapshotReader(tmp_path)
    keys = frames.keys["lookup_key"].sample(200, random_state=1).tolist()
    published = [0]  # the latest marker whose publish has returned
    errors, stale, stop = [], [], threading.Event()

    def read() -> None:
        while not stop.is_set():
            for key in keys:
                floor = published[0]
                try:
                    seen = reader.lookup(key)["build"]
                except Exception as error:  # noqa: BLE001 - any error fails the test
                    errors.append(repr(error))
                    return
                if seen < floor:
                    stale.append((key, seen, floor))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for marker in range(1, 7):
        publish(_marked(frames, marker), tmp_path, full_rebuild=marker % 2 == 0)
        published[0] = marker
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == [] and stale == []
    assert reader.lookup(keys[0])["build"] == 6
    assert len(list(tmp_path.glob("snapshot-*.sqlite"))) <= 2  # current + one previous


def _refreshed(frames: SnapshotFrames) -> SnapshotFrames:
    """What a later refresh could publish: 3 profiles changed, 2 gone, a key re-pointed."""
    records = frames.records.copy()
    gone = set(records["profile_id"].iloc[-2:])
    for i in range(3):
        doc = orjson.loads(records.at[i, "record"]) | {"orders_count": 99}
        records.at[i, "record"] = orjson.dumps(doc)
        records.at[i, "etag"] = f"changed-{i}"
    records = records[~records["profile_id"].isin(gone)].reset_index(drop=True)
    keys = frames.keys[~frames.keys["profile_id"].isin(gone)].reset_index(drop=True)
    email_row = keys.index[keys["lookup_key"].str.contains("@")][0]
    keys.at[email_row, "profile_id"] = records["profile_id"].iloc[5]
    return SnapshotFrames(records=records, keys=keys)


def test_incremental_upsert_is_live_and_equals_a_full_rebuild(frames, tmp_path):
    live, rebuilt = tmp_path / "live", tmp_path / "rebuilt"
    publish(frames, live)
    reader = SnapshotReader(live)
    changed_id = frames.records["profile_id"].iloc[0]
    assert reader.lookup(changed_id)["orders_count"] != 99
    new = _refreshed(frames)

    report = publish(new, live)
    assert (report.mode, report.upserted, report.deleted) == ("incremental", 3, 2)
    assert reader.lookup(changed_id)["orders_count"] == 99  # same reader, no restart
    assert reader.lookup(frames.records["profile_id"].iloc[-1]) is None
    publish(new, rebuilt, full_rebuild=True)
    assert content(current_path(live)) == content(current_path(rebuilt))


def test_erasure_removes_the_person_from_the_live_snapshot_at_once(
    warehouse, frames, tmp_path, monkeypatch
):
    monkeypatch.setenv("PROFILE_ASSETS_HOME", str(tmp_path))
    publish(frames, tmp_path / "serving")
    publish(frames, tmp_path / "serving", full_rebuild=True)  # an older file exists too
    reader = SnapshotReader(tmp_path / "serving")
    golden = inputs_of(warehouse).golden
    person = golden[golden["record_count"] > 1].iloc[0]
    assert reader.lookup(person["email"])["profile_id"] == person["profile_id"]

    report = erase_everywhere(person["email"], warehouse=warehouse)
    assert report.rows_deleted["serving.snapshot"] >= 1
    assert reader.lookup(person["email"]) is None
    assert reader.lookup(person["profile_id"]) is None
    for path in (tmp_path / "serving").iterdir():  # no copy left in any file
        assert person["email"].encode() not in path.read_bytes(), path.name
    still_served = golden[golden["profile_id"] != person["profile_id"]].iloc[0]
    assert reader.lookup(still_served["profile_id"]) is not None

    publish(build_snapshot_frames(inputs_of(warehouse)), tmp_path / "serving")  # next refresh
    assert reader.lookup(person["email"]) is None
