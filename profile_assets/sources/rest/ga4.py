"""GA4 Data API: per-user-per-day web activity, read one date range at a time.

A GA4 report has no modification cursor: a day's numbers are a snapshot that can still move
while GA4 processes late hits. So the increment is the *day* (the asset is daily-partitioned,
in the property's time zone) and each load replaces its days wholesale in one transaction
(`replace_window`): rerunning or backfilling a range converges to what GA4 says now, and never
duplicates. `runReport` pages with limit/offset (dlt's `OffsetPaginator`, with the offset and
limit in the JSON body); `rowCount` is absent when a range has no rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pandas as pd
from dlt.sources.helpers.rest_client.paginators import OffsetPaginator
from requests import Response

from profile_assets.privacy.suppression import Suppressions
from profile_assets.quarantine.rejections import LoadTally, with_load_metadata
from profile_assets.sources.rest.client import SourceClient
from profile_assets.sources.rest.records import Field, parse_records
from profile_assets.sources.rest.sync import drop_suppressed, replace_window
from profile_assets.warehouse import WarehouseConnection

SOURCE = "web_user_days"
TABLE = "raw.web_user_days"
NOT_SET = "(not set)"
PAGE_SIZE = 50_000

DIMENSIONS = {"date": "date", "customUser:user_id": "user_id", "customUser:client_id": "client_id"}
METRICS = {
    "sessions": "sessions",
    "screenPageViews": "page_views",
    "addToCarts": "add_to_carts",
    "ecommercePurchases": "purchases",
    "purchaseRevenue": "revenue",
}
FIELDS = (
    Field.at("date", kind="date", description="Day in the property's time zone"),
    Field.at("user_id", description="Storefront customer id after login; null if anonymous"),
    Field.at("client_id", description="GA pseudo id of the browser"),
    Field.at("sessions", kind="int"),
    Field.at("page_views", kind="int"),
    Field.at("add_to_carts", kind="int"),
    Field.at("purchases", kind="int"),
    Field.at("revenue", kind="float"),
)


class ReportPaginator(OffsetPaginator):
    """limit/offset in the request body; stops at `rowCount`, or at once when it is absent."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            limit=limit, offset_body_path="offset", limit_body_path="limit", total_path="rowCount"
        )

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        if "rowCount" not in response.json():
            self._has_next_page = False
            return
        super().update_state(response, data)


def _record(row: Any, names: list[str]) -> Any:
    """A report row as a flat record named like the world's table; malformed rows pass through
    unchanged so the parser quarantines them."""
    try:
        values = [d["value"] for d in row["dimensionValues"]]
        values += [m["value"] for m in row["metricValues"]]
    except (KeyError, TypeError):
        return row
    record = dict(zip(names, values, strict=False))
    if record.get("user_id") == NOT_SET:
        record["user_id"] = None
    return record


def report_pages(
    client: SourceClient, property_id: str, start: date, end: date, page_size: int = PAGE_SIZE
) -> Iterator[list[Any]]:
    """Rows of the per-user-per-day report for [start, end] (inclusive), page by page."""
    body = {
        "dateRanges": [{"startDate": start.isoformat(), "endDate": end.isoformat()}],
        "dimensions": [{"name": name} for name in DIMENSIONS],
        "metrics": [{"name": name} for name in METRICS],
    }
    names = [*DIMENSIONS.values(), *METRICS.values()]
    for page in client.paginate(
        f"/v1beta/properties/{property_id}:runReport",
        method="POST",
        json=body,
        paginator=ReportPaginator(page_size),
        data_selector="rows",
    ):
        yield [_record(row, names) for row in page]


def source_ids(rows: pd.DataFrame) -> pd.Series:
    """`date|client_id|user_id`: one GA4 row per day, browser and (possibly no) user."""
    return (
        rows["date"].astype(str)
        + "|"
        + rows["client_id"].astype(str)
        + "|"
        + rows["user_id"].fillna("").astype(str)
    )


def load_days(
    conn: WarehouseConnection,
    client: SourceClient,
    property_id: str,
    first: date,
    last: date,
    *,
    run_id: str,
    page_size: int = PAGE_SIZE,
) -> tuple[LoadTally, pd.DataFrame]:
    """Replace days [first, last] of raw.web_user_days by GA4's current report for them."""
    pages = report_pages(client, property_id, first, last, page_size)
    records = [r for page in pages for r in page]
    parsed = parse_records(records, FIELDS, key="client_id", source=SOURCE, required=["date"])
    rows = with_load_metadata(
        parsed.rows,
        source=SOURCE,
        source_id=source_ids(parsed.rows),
        run_id=run_id,
        extracted_at=pd.Timestamp.now(tz="UTC"),
    )
    rows, rejections, suppressed = drop_suppressed(
        TABLE, rows, parsed.rejections, Suppressions.load(conn)
    )
    window = f"CAST(date AS DATE) BETWEEN DATE '{first}' AND DATE '{last}'"
    replace_window(conn, TABLE, rows, window=window, rejections=rejections, run_id=run_id)
    tally = LoadTally(
        read=len(records), loaded=len(rows), rejected=rejections, suppressed=suppressed
    )
    return tally, rows
