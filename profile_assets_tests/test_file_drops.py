"""Partner file drops load every file exactly once, whatever its format, encoding or
delimiter, and every record or file that cannot be loaded is quarantined with a reason."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance, RunRequest, SkipReason, build_sensor_context, materialize

from profile_assets.contracts.drift import detect_drift
from profile_assets.sandbox.file_drops import write_file_drops
from profile_assets.sandbox.world import generate_world
from profile_assets.sources.files import loading
from profile_assets.sources.files.assets import file_contacts, file_drop_sensor, file_orders
from profile_assets.sources.files.discovery import DroppedFile
from profile_assets.sources.files.kinds import CONTACTS, ORDERS, raw_name
from profile_assets.sources.files.loading import load_pending
from profile_assets.warehouse import DuckDBWarehouse

HEADER = ["contact_ref", "First Name", "Last Name", "E-mail", "Phone", "Birth Date", "Street",
          "Town", "Post Code", "Country", "updated"]  # fmt: skip
# Non-ASCII names that Latin-1 can hold, an apostrophe (csv.Sniffer's favourite trap), and
# fields holding the delimiters, quotes and a line break.
CONTACT_ROWS = [
    ["PC-1", "José", "Müller", "jose@example.com", "+44 20 7946 0001", "02/01/1990",
     "12, Rue de l'Église; Bât. B", "Paris", "75001", "France", "2026-07-01 12:00:00"],
    ["PC-2", "Zoë", "Ørsted", "zoe@example.dk", "", "", 'Flat 2 | "The Old Mill"\nMill Lane',
     "Århus", "8000", "Denmark", "2026-01-15 08:30:00"],
    ["PC-3", "Siobhán", "O'Brien", "", "020 7946 0003", "1985-12-31", "1 High St", "Dún Laoghaire",
     "A96", "Ireland", "2026-10-25 01:30:00"],
]  # fmt: skip
EXPECTED = pd.DataFrame(
    {
        "contact_ref": ["PC-1", "PC-2", "PC-3"],
        "first_name": ["José", "Zoë", "Siobhán"],
        "last_name": ["Müller", "Ørsted", "O'Brien"],
        "street": [
            "12, Rue de l'Église; Bât. B",
            'Flat 2 | "The Old Mill"\nMill Lane',
            "1 High St",
        ],
        "town": ["Paris", "Århus", "Dún Laoghaire"],
        # naive London times: BST in July, GMT in January, the first 01:30 of the DST overlap
        "updated": pd.to_datetime(
            ["2026-07-01 11:00:00", "2026-01-15 08:30:00", "2026-10-25 00:30:00"], utc=True
        ),
    }
)


def _csv(rows, header=HEADER, *, delimiter=",", encoding="utf-8", quoting=csv.QUOTE_MINIMAL):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator="\r\n")
    writer.writerows([header, *rows])
    return buffer.getvalue().encode(encoding)


def _jsonl(rows, header=HEADER) -> bytes:
    lines = (json.dumps(dict(zip(header, r, strict=True)), ensure_ascii=False) for r in rows)
    return "\n".join(lines).encode()


def _parquet(rows, header=HEADER) -> bytes:
    frame = pd.DataFrame(rows, columns=header).replace("", None)
    frame["updated"] = pd.to_datetime(frame["updated"])  # typed, naive as the partner writes
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


SHOUTED = [h.upper() for h in HEADER]
SNAKE = ["contact_ref", "first_name", "last_name", "email", "phone", "birth_date", "street",
         "town", "post_code", "country", "updated"]  # fmt: skip
VARIANTS = {
    "utf8_comma.csv": _csv(CONTACT_ROWS),
    "utf8_bom_semicolon.csv": _csv(CONTACT_ROWS, delimiter=";", encoding="utf-8-sig"),
    "latin1_tab_shouted_headers.tsv": _csv(
        CONTACT_ROWS, SHOUTED, delimiter="\t", encoding="latin-1"
    ),
    "cp1252_pipe_quote_all.csv": _csv(
        CONTACT_ROWS, delimiter="|", encoding="cp1252", quoting=csv.QUOTE_ALL
    ),
    "excel_unicode_text.txt": _csv(CONTACT_ROWS, delimiter="\t", encoding="utf-16"),
    "snake_headers.jsonl": _jsonl(CONTACT_ROWS, SNAKE),
    "typed.parquet": _parquet(CONTACT_ROWS),
}


JSON_OR_PARQUET = (".jsonl", ".parquet")  # lines / rows counted from 1, no header


@pytest.fixture
def drop_root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PROFILE_ASSETS_HOME", str(tmp_path))
    return tmp_path / "drop"


@pytest.fixture
def warehouse(tmp_path) -> DuckDBWarehouse:
    return DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"))


def drop(root: Path, kind: str, name: str, data: bytes, *, age: float = 60.0) -> Path:
    """Place a file as a partner would, `age` seconds old (older than the settle time)."""
    path = root / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def load(warehouse, root, kind=CONTACTS, run_id="run-1"):
    with warehouse.connection() as conn:
        return load_pending(conn, root, kind, run_id=run_id)


def query(warehouse, sql: str) -> pd.DataFrame:
    with warehouse.connection() as conn:
        return conn.query_df(sql)


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


@pytest.mark.parametrize("name", VARIANTS)
def test_every_format_encoding_and_delimiter_loads_the_same_values(name, drop_root, warehouse):
    drop(drop_root, "contacts", name, VARIANTS[name])

    [outcome] = load(warehouse, drop_root)

    assert (outcome.status, outcome.tally.read, outcome.tally.loaded) == ("loaded", 3, 3)
    rows = query(warehouse, "SELECT * FROM raw.file_contacts ORDER BY contact_ref")
    pd.testing.assert_frame_equal(
        rows[EXPECTED.columns].astype(object),
        EXPECTED.astype(object),
        check_dtype=False,
    )
    assert rows["_source_id"].tolist() == ["PC-1", "PC-2", "PC-3"]
    text_lines = [2, 3, 5]  # header is line 1; PC-2's street spans two lines
    assert rows["_line"].tolist() == ([1, 2, 3] if name.endswith(JSON_OR_PARQUET) else text_lines)
    assert set(rows["_source"]) == {"file_drop"} and set(rows["_op"]) == {"upsert"}
    assert set(rows["_file"]) == {f"contacts/{name}"}
    assert files_in(drop_root / "contacts") == []
    assert len(files_in(drop_root / "archive" / "contacts")) == 1


ORDERS_CSV = _csv(
    [["O-1", "PC-1", "2026-07-01 12:00:00", "19.99", "GBP"]],
    ["ORDER REF", "Contact Ref", "order_date", "Amount", "currency"],
)


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (CONTACTS, VARIANTS["latin1_tab_shouted_headers.tsv"], {"contact_ref", "e_mail"}),
        (ORDERS, ORDERS_CSV, {"order_ref", "contact_ref", "order_date", "amount"}),
    ],
)
def test_raw_tables_fit_the_staging_source_mapping(kind, data, expected, drop_root, warehouse):
    drop(drop_root, kind.name, "file.csv", data)
    load(warehouse, drop_root, kind)

    raw = query(warehouse, f"SELECT * FROM {kind.table}")

    report = detect_drift(kind.source_table, raw)  # raises on a missing or retyped column
    assert expected <= set(report.column_map) and not expected & set(report.added)


def test_rows_that_cannot_be_loaded_are_quarantined_with_file_and_line(drop_root, warehouse):
    header = ["Order Ref", "contact_ref", "Order Date", "Amount", "Currency"]
    rows = [
        ["O-1", "PC-1", "2026-07-01 12:00:00", "19.99", "GBP"],
        ["O-2", "PC-1", "2026-07-02 12:00:00", "12,50", "EUR"],  # decimal comma: not a number
        ["", "PC-2", "2026-07-03 12:00:00", "5", "GBP"],  # no id
        ["O-4", "PC-2", "yesterday", "7", "GBP"],  # not a timestamp
        ["O-5", "PC-3", "2026-01-05 09:00:00", "-5.0", "GBP"],  # a valid number: staging judges
    ]
    data = _csv(rows, header, delimiter=";") + b"O-6;PC-3;2026-01-06\r\n"  # too few fields
    drop(drop_root, "orders", "orders.csv", data)

    [outcome] = load(warehouse, drop_root, ORDERS)

    assert (outcome.tally.read, outcome.tally.loaded, len(outcome.tally.rejected)) == (6, 2, 4)
    assert outcome.tally.balanced
    loaded = query(warehouse, "SELECT * FROM raw.file_orders ORDER BY order_ref")
    assert loaded["order_ref"].tolist() == ["O-1", "O-5"]
    assert loaded["amount"].tolist() == [19.99, -5.0]
    assert loaded["order_date"].tolist() == [
        pd.Timestamp("2026-07-01 11:00", tz="UTC"),
        pd.Timestamp("2026-01-05 09:00", tz="UTC"),
    ]
    rejected = query(
        warehouse,
        "SELECT run_id, source, file, line, reason, payload FROM ops.rejected_records "
        "ORDER BY line",
    )
    assert json.loads(rejected["payload"][0]) == dict(zip(header, rows[1], strict=True))
    assert rejected["file"].unique().tolist() == ["orders/orders.csv"]
    assert set(rejected["run_id"]) == {"run-1"} and set(rejected["source"]) == {"file_drop"}
    assert rejected["line"].tolist() == [3, 4, 5, 7]
    reasons = rejected["reason"].tolist()
    assert "amount='12,50' is not a float" in reasons[0]
    assert "missing primary key order_ref" in reasons[1]
    assert "order_date='yesterday' is not a datetime" in reasons[2]
    assert "expected 5 fields, found 3" in reasons[3]


def test_same_file_dropped_twice_loads_once(drop_root, warehouse):
    drop(drop_root, "contacts", "monday.csv", VARIANTS["utf8_comma.csv"])
    load(warehouse, drop_root, run_id="run-1")
    drop(drop_root, "contacts", "monday-resent.csv", VARIANTS["utf8_comma.csv"])

    [outcome] = load(warehouse, drop_root, run_id="run-2")

    assert outcome.status == "duplicate" and outcome.tally.read == 0
    raw = query(warehouse, "SELECT _run_id, COUNT(*) AS n FROM raw.file_contacts GROUP BY 1")
    assert raw.to_dict("records") == [{"_run_id": "run-1", "n": 3}]
    assert len(query(warehouse, "SELECT * FROM ops.loaded_files")) == 1
    assert files_in(drop_root / "contacts") == []
    assert len(files_in(drop_root / "archive" / "contacts")) == 2  # both kept for the record


def test_newest_file_wins_whatever_order_files_are_loaded_in(drop_root, warehouse):
    older = [["PC-1", "Jose", "Muller", "old@example.com", "", "", "", "", "", "", ""]]
    newer = [["PC-1", "José", "Müller", "new@example.com", "", "", "", "", "", "", ""]]
    drop(drop_root, "contacts", "newer.csv", _csv(newer), age=60)
    load(warehouse, drop_root, run_id="run-1")
    drop(drop_root, "contacts", "older.csv", _csv(older), age=3600)  # a late, stale resend
    load(warehouse, drop_root, run_id="run-2")

    rows = query(warehouse, "SELECT first_name, e_mail, _file FROM raw.file_contacts")

    assert rows.to_dict("records") == [
        {"first_name": "José", "e_mail": "new@example.com", "_file": "contacts/newer.csv"}
    ]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
        ("export.jsonl", b"[1, 2]\nnot json\n", "no line is a JSON object"),
        ("no_ids.csv", b"Name,E-mail\nJose,j@x.com\n", "no contact_ref column"),
        ("empty.csv", b"", "the file is empty"),
    ],
)
def test_unparseable_file_goes_to_failed_with_reason_and_is_not_retried(
    name, data, reason, drop_root, warehouse
):
    drop(drop_root, "contacts", name, data)

    [outcome] = load(warehouse, drop_root, run_id="run-1")

    assert outcome.status == "failed" and outcome.tally.balanced
    failed = drop_root / "failed" / "contacts"
    [moved, reason_file] = files_in(failed)
    assert moved.startswith(Path(name).stem) and reason_file == f"{moved}.reason.txt"
    assert reason in (failed / reason_file).read_text()
    assert files_in(drop_root / "contacts") == []
    quarantined = query(warehouse, "SELECT file, reason FROM ops.rejected_records")
    assert quarantined["file"].tolist() == [f"contacts/{name}"]
    assert reason in quarantined["reason"][0]

    drop(drop_root, "contacts", name, data)  # the partner sends the same bytes again
    [again] = load(warehouse, drop_root, run_id="run-2")

    assert again.status == "failed" and again.tally.read == 0
    assert len(query(warehouse, "SELECT * FROM ops.rejected_records")) == 1
    assert files_in(drop_root / "contacts") == [] and len(files_in(failed)) == 2


def test_crash_after_commit_before_archive_then_rerun_duplicates_nothing(
    drop_root, warehouse, monkeypatch
):
    drop(drop_root, "contacts", "contacts.csv", VARIANTS["utf8_comma.csv"])

    def crash(*args, **kwargs):
        raise RuntimeError("killed between commit and archive")

    with monkeypatch.context() as patch:
        patch.setattr(DroppedFile, "move_to", crash)
        with pytest.raises(RuntimeError):
            load(warehouse, drop_root, run_id="run-1")
    assert files_in(drop_root / "contacts") == ["contacts.csv"]  # still waiting

    [outcome] = load(warehouse, drop_root, run_id="run-2")

    assert outcome.status == "duplicate"
    assert query(warehouse, "SELECT COUNT(*) AS n FROM raw.file_contacts")["n"][0] == 3
    assert files_in(drop_root / "contacts") == []


def test_crash_inside_the_load_transaction_then_rerun_loses_nothing(
    drop_root, warehouse, monkeypatch
):
    bad_row = b"PC-9,,,,,,,,,,not a time\r\n"
    drop(drop_root, "contacts", "contacts.csv", VARIANTS["utf8_comma.csv"] + bad_row)

    def crash(*args, **kwargs):
        raise RuntimeError("killed before the file was recorded")

    with monkeypatch.context() as patch:
        patch.setattr(loading, "_record_file", crash)
        with pytest.raises(RuntimeError):
            load(warehouse, drop_root, run_id="run-1")
    assert query(warehouse, "SELECT COUNT(*) AS n FROM raw.file_contacts")["n"][0] == 0

    [outcome] = load(warehouse, drop_root, run_id="run-2")

    assert (outcome.status, outcome.tally.loaded, len(outcome.tally.rejected)) == ("loaded", 3, 1)
    assert query(warehouse, "SELECT COUNT(*) AS n FROM raw.file_contacts")["n"][0] == 3
    quarantined = query(warehouse, "SELECT run_id, line FROM ops.rejected_records")
    assert quarantined.to_dict("records") == [{"run_id": "run-2", "line": 6}]


def test_sensor_requests_a_run_only_when_settled_new_files_wait(drop_root):
    instance = DagsterInstance.ephemeral()

    def tick():
        return file_drop_sensor(build_sensor_context(instance=instance))

    assert isinstance(tick(), SkipReason)

    drop(drop_root, "orders", "being-written.csv", b"order_ref\n", age=0)
    drop(drop_root, "orders", "upload.csv.part", b"order_ref\n")
    drop(drop_root, "orders", ".hidden.csv", b"order_ref\n")
    assert isinstance(tick(), SkipReason)

    drop(drop_root, "contacts", "contacts.csv", VARIANTS["utf8_comma.csv"])
    request = tick()

    assert isinstance(request, RunRequest)
    assert [k.path for k in request.asset_selection] == [["raw", "file_contacts"]]
    assert tick().run_key == request.run_key  # same files, same run: Dagster launches it once


def test_sensor_retries_files_a_failed_run_left_waiting(drop_root, tmp_path):
    instance = DagsterInstance.ephemeral()
    drop(drop_root, "contacts", "contacts.csv", VARIANTS["utf8_comma.csv"])
    first = file_drop_sensor(build_sensor_context(instance=instance))
    (tmp_path / "not-a-dir").write_text("")
    broken = DuckDBWarehouse(path=str(tmp_path / "not-a-dir" / "wh.duckdb"))

    failed = materialize(
        [file_contacts],
        instance=instance,
        resources={"warehouse": broken},
        tags=first.tags,
        raise_on_error=False,
    )
    retry = file_drop_sensor(build_sensor_context(instance=instance))

    assert not failed.success
    assert isinstance(retry, RunRequest) and retry.run_key != first.run_key
    assert files_in(drop_root / "contacts") == ["contacts.csv"]


def test_assets_report_counts_per_file_in_metadata(drop_root, warehouse):
    drop(drop_root, "contacts", "contacts.jsonl", VARIANTS["snake_headers.jsonl"] + b"\n{bad")
    drop(drop_root, "orders", "junk.parquet", b"not parquet at all")

    result = materialize([file_contacts, file_orders], resources={"warehouse": warehouse})

    contacts, orders = (
        result.asset_materializations_for_node(node)[0].metadata
        for node in ("raw__file_contacts", "raw__file_orders")
    )
    assert {
        k: contacts[k].value for k in ("records_read", "records_loaded", "records_rejected")
    } == {
        "records_read": 4,
        "records_loaded": 3,
        "records_rejected": 1,
    }
    assert contacts["balanced"].value and contacts["dagster/row_count"].value == 3
    assert "| contacts/contacts.jsonl | loaded | 4 | 3 | 1 |" in contacts["files"].value
    assert (orders["files_failed"].value, orders["records_rejected"].value) == (1, 1)
    assert orders["dagster/row_count"].value == 0  # the table exists, empty, for downstream


@pytest.fixture(scope="module")
def world():
    return generate_world(3000, seed=11)


def _drop_world_deliveries(world, tmp_path: Path, drop_root: Path) -> None:
    """The partner's deliveries into drop/contacts/ and drop/orders/, later ones newer."""
    written = write_file_drops(world, tmp_path / "deliveries")
    for age, path in enumerate(reversed(written)):
        kind = CONTACTS if path.name.startswith(CONTACTS.source_table) else ORDERS
        drop(drop_root, kind.name, path.name, path.read_bytes(), age=60 + age)


def _same_instants(loaded: pd.Series, truth: pd.Series) -> bool:
    """Equal to the second, except wall times repeated when clocks go back: a naive London
    time cannot say which of the two instants it was, and is read as the first."""
    gap = (loaded - truth.dt.floor("s")).abs()
    return bool(((gap == pd.Timedelta(0)) | (gap == pd.Timedelta(hours=1))).all()) and bool(
        (gap == pd.Timedelta(0)).mean() > 0.99
    )


def test_world_deliveries_load_exactly_what_the_partner_holds(
    world, tmp_path, drop_root, warehouse
):
    _drop_world_deliveries(world, tmp_path, drop_root)

    outcomes = load(warehouse, drop_root, CONTACTS) + load(warehouse, drop_root, ORDERS)

    assert {o.status for o in outcomes} == {"loaded"} and all(o.tally.balanced for o in outcomes)
    assert {o.details.get("encoding") for o in outcomes} >= {"utf-8", "utf-16"}
    truth = world.tables["file_contacts"].set_index("contact_ref")
    raw = query(warehouse, "SELECT * FROM raw.file_contacts").set_index("contact_ref")
    assert sorted(raw.index) == sorted(truth.index)
    raw = raw.loc[truth.index]
    for vendor in ["First Name", "Last Name", "E-mail", "Phone", "Birth Date", "Street", "Town",
                   "Post Code", "Country"]:  # fmt: skip
        column = raw_name(vendor)
        assert raw[column].fillna("").tolist() == truth[vendor].fillna("").tolist(), vendor
    assert _same_instants(raw["updated"], truth["updated"])

    orders = world.tables["file_orders"].set_index("order_ref")
    amounts = pd.to_numeric(orders["amount"], errors="coerce")
    raw_orders = query(warehouse, "SELECT * FROM raw.file_orders").set_index("order_ref")
    assert sorted(raw_orders.index) == sorted(amounts.dropna().index)
    raw_orders = raw_orders.loc[amounts.dropna().index]
    assert raw_orders["amount"].tolist() == amounts.dropna().tolist()
    assert _same_instants(raw_orders["order_date"], orders.loc[raw_orders.index, "order date"])
    quarantined = query(warehouse, "SELECT payload FROM ops.rejected_records")["payload"]
    assert sorted(json.loads(p)["order_ref"] for p in quarantined) == sorted(
        amounts[amounts.isna()].index
    )


# --------------------------------------------------------------------------- erased people
def test_scrubbing_a_file_drops_only_the_suppressed_persons_rows_in_every_format(tmp_path):
    from profile_assets.privacy.suppression import Suppressions
    from profile_assets.sources.files.scrub import scrub_file

    rows = pd.DataFrame(
        {
            "contact_ref": ["PC-1", "PC-2", "PC-3"],
            "First Name": ["Ann", "Bo", "Cy"],
            "E-mail": ["ann@x.org", "bo@x.org", "cy@x.org"],
            "updated": ["2024-01-01 10:00:00", "not a time", "2024-01-02 10:00:00"],
        }
    )
    suppressions = Suppressions(frozenset(), None).with_keys(
        ["bo@x.org", "record:file_contacts:PC-3"]
    )
    paths = {
        "a.csv": lambda p: p.write_bytes(rows.to_csv(index=False, sep="\t").encode("utf-16")),
        "b.jsonl": lambda p: p.write_text(rows.to_json(orient="records", lines=True)),
        "c.parquet": lambda p: rows.to_parquet(p),
    }
    for name, write in paths.items():
        path = tmp_path / name
        write(path)
        assert scrub_file(path, CONTACTS, suppressions) == 2, name
        data = path.read_bytes()
        text = data.decode("utf-16") if name.endswith(".csv") else data.decode("latin_1")
        if name.endswith(".parquet"):
            text = pd.read_parquet(path).to_csv()
        assert "ann@x.org" in text and "bo@x.org" not in text and "PC-3" not in text, name
        assert scrub_file(path, CONTACTS, suppressions) == 0, "idempotent"
