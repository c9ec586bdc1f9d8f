"""Zendesk Support end users and tickets as `Stream`s, via cursor-based incremental exports.

`GET /api/v2/incremental/{users|tickets}/cursor.json` starts from `start_time` (epoch seconds;
0 for a full sync) and then follows `after_cursor` until `end_of_stream`. The last page still
carries an `after_cursor`, and Zendesk cursors are durable: it is exactly the resume point we
store, so the next run sees only later changes and no timestamp tie can be lost. The export
includes deletions (tickets with status "deleted", users with active=false); they become
`_op='delete'` tombstones. Satisfaction comes embedded in each ticket.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
from requests import Request, Response

from profile_assets.sources.rest.client import SourceClient
from profile_assets.sources.rest.records import Field
from profile_assets.sources.rest.sync import Page, Stream

PER_PAGE = 1000


class ExportPaginator(JSONResponseCursorPaginator):
    """Follows `after_cursor` until `end_of_stream` (dlt's has_more_path wants the opposite
    polarity), dropping `start_time` once a cursor takes over."""

    def __init__(self) -> None:
        super().__init__(cursor_path="after_cursor", cursor_param="cursor")

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        if response.json().get("end_of_stream", True):
            self._has_next_page = False

    def update_request(self, request: Request) -> None:
        super().update_request(request)
        request.params.pop("start_time", None)


USER_FIELDS = (
    Field.at("id", kind="int", description="Zendesk user id"),
    Field.at("name", description="Full name as one string"),
    Field.at("email"),
    Field.at("phone"),
    Field.at("external_id", description="Link key to the storefront account, when set"),
    Field.at("role"),
    Field.at("active", kind="bool", description="False once the user is deleted"),
    Field.at("created_at", kind="ts"),
    Field.at("updated_at", kind="ts", description="Last modification"),
)
TICKET_FIELDS = (
    Field.at("id", kind="int", description="Zendesk ticket id"),
    Field.at("requester_id", kind="int", description="The support user who asked"),
    Field.at("subject"),
    Field.at("status", description="new/open/pending/solved/closed/deleted"),
    Field.at("priority"),
    Field.at("created_at", kind="ts"),
    Field.at("updated_at", kind="ts", description="Last modification"),
    Field.at("satisfaction_score", "satisfaction_rating", "score"),
    Field.at("satisfaction_comment", "satisfaction_rating", "comment"),
)


def _export_pages(
    client: SourceClient, resource: str, cursor: str | None, per_page: int
) -> Iterator[Page]:
    params: dict[str, Any] = {"per_page": per_page}
    if cursor is None:
        params["start_time"] = 0
    else:
        params["cursor"] = cursor
    for page in client.paginate(
        f"/api/v2/incremental/{resource}/cursor.json",
        params=params,
        paginator=ExportPaginator(),
        data_selector=resource,
    ):
        yield Page(list(page), page.response.json().get("after_cursor"))


def users_stream(client: SourceClient, per_page: int = PER_PAGE) -> Stream:
    return Stream(
        name="zendesk.users",
        table="raw.support_users",
        source="support_users",
        key="id",
        version="updated_at",
        fields=USER_FIELDS,
        pages=lambda cursor: _export_pages(client, "users", cursor, per_page),
        deleted=lambda rows: ~rows["active"].fillna(True).astype(bool),
    )


def tickets_stream(client: SourceClient, per_page: int = PER_PAGE) -> Stream:
    return Stream(
        name="zendesk.tickets",
        table="raw.support_tickets",
        source="support_tickets",
        key="id",
        version="updated_at",
        fields=TICKET_FIELDS,
        pages=lambda cursor: _export_pages(client, "tickets", cursor, per_page),
        deleted=lambda rows: pd.Series(rows["status"] == "deleted").fillna(False).astype(bool),
    )
