"""HubSpot CRM v3 contacts and deals as `Stream`s.

Full sync (no cursor): the list endpoint (`GET /crm/v3/objects/{type}`, paged by id, no result
cap, deal->contact associations inline), active records then archived ones. The cursor it
leaves is the newest modification time that existed *before* the listing began, so anything
modified while it ran is read again next time.

Incremental sync: the search endpoint, `lastmodifieddate >= cursor` sorted ascending, then the
archived listing filtered to archives at or after the archive cursor (search never returns
archived records; an archive is HubSpot's delete and becomes an `_op='delete'` tombstone).
Search answers at most 10,000 results per query, so a window over the cap is halved until each
half fits (`_window_pages`); windows are read oldest first, so the cursor can advance page by
page. Resuming with `>=` re-reads the records sharing the cursor's millisecond; the merge makes
that harmless and guarantees none of them is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from profile_assets.sources.rest.client import SourceClient
from profile_assets.sources.rest.records import Field
from profile_assets.sources.rest.sync import Page, Stream

SEARCH_CAP = 10_000
SEARCH_PAGE = 200
LIST_PAGE = 100
ASSOCIATION_WORKERS = 8


@dataclass(frozen=True)
class CrmObject:
    """What differs between HubSpot object types."""

    object_type: str  # contacts | deals
    table: str  # world/raw table name
    modified: str  # the modification-time property
    properties: tuple[str, ...]
    fields: tuple[Field, ...]
    with_contacts: bool = False


def _common_fields(modified: str) -> tuple[Field, ...]:
    return (
        Field.at("createdate", "properties", "createdate", kind="ts"),
        Field.at(modified, "properties", modified, kind="ts", description="Last modification"),
        Field.at("archived", kind="bool", description="Archived (HubSpot's delete)"),
        Field.at("archived_at", "archivedAt", kind="ts"),
    )


CONTACT_TEXT = (
    "email", "firstname", "lastname", "phone", "address", "city", "zip", "state", "country",
    "date_of_birth", "storefront_customer_id",
)  # fmt: skip
DEAL_TEXT = ("dealname", "amount", "deal_currency_code", "dealstage", "pipeline")

CONTACTS = CrmObject(
    object_type="contacts",
    table="crm_contacts",
    modified="lastmodifieddate",
    properties=(*CONTACT_TEXT, "createdate", "lastmodifieddate"),
    fields=(
        Field.at("id", description="HubSpot record id"),
        *(Field.at(name, "properties", name) for name in CONTACT_TEXT),
        *_common_fields("lastmodifieddate"),
    ),
)
DEALS = CrmObject(
    object_type="deals",
    table="crm_deals",
    modified="hs_lastmodifieddate",
    properties=(*DEAL_TEXT, "closedate", "createdate", "hs_lastmodifieddate"),
    fields=(
        Field.at("id", description="HubSpot record id"),
        *(Field.at(name, "properties", name) for name in DEAL_TEXT),
        Field.at("closedate", "properties", "closedate", kind="ts"),
        Field.at("contact_ids", "contact_ids", kind="list", description="Associated contacts"),
        *_common_fields("hs_lastmodifieddate"),
    ),
    with_contacts=True,
)


def _millis(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return pd.Timestamp(iso).value // 1_000_000
    except ValueError:
        return None


@dataclass
class Cursor:
    """Epoch ms: newest modification read, newest archive read (None: never read)."""

    modified: int | None = None
    archived: int | None = None

    @classmethod
    def load(cls, text: str | None) -> Cursor:
        return cls(**json.loads(text)) if text else cls()

    def dump(self) -> str:
        return json.dumps({"modified": self.modified, "archived": self.archived})


class CrmReader:
    """Reads one HubSpot object type through a `SourceClient`."""

    def __init__(self, client: SourceClient, obj: CrmObject, search_cap: int = SEARCH_CAP):
        self.client = client
        self.obj = obj
        self.search_cap = search_cap

    def stream(self) -> Stream:
        return Stream(
            name=f"hubspot.{self.obj.object_type}",
            table=f"raw.{self.obj.table}",
            source=self.obj.table,
            key="id",
            version=self.obj.modified,
            fields=self.obj.fields,
            pages=self.pages,
            deleted=lambda rows: rows["archived"].fillna(False),
        )

    def pages(self, cursor_text: str | None) -> Iterator[Page]:
        cursor = Cursor.load(cursor_text)
        if cursor.modified is None:
            yield from self._full(cursor)
        else:
            yield from self._incremental(cursor)

    # -- full ---------------------------------------------------------------------------------

    def _full(self, cursor: Cursor) -> Iterator[Page]:
        newest_before = self._newest_modified()
        for page in self._listing(archived=False):
            yield Page(page)
        archived_max = cursor.archived
        for page in self._listing(archived=True):
            archived_max = _max(archived_max, *(_archived_ms(r) for r in page))
            yield Page(page)
        final = Cursor(
            modified=newest_before if newest_before is not None else 0, archived=archived_max
        )
        yield Page([], final.dump())

    def _listing(self, *, archived: bool) -> Iterator[list[dict]]:
        params: dict[str, Any] = {
            "limit": LIST_PAGE,
            "archived": str(archived).lower(),
            "properties": ",".join(self.obj.properties),
        }
        if self.obj.with_contacts:
            params["associations"] = "contacts"
        paginator = JSONResponseCursorPaginator(
            cursor_path="paging.next.after", cursor_param="after"
        )
        for page in self.client.paginate(
            f"/crm/v3/objects/{self.obj.object_type}",
            params=params,
            paginator=paginator,
            data_selector="results",
        ):
            yield [self._flatten_associations(r) for r in page] if self.obj.with_contacts else page

    @staticmethod
    def _flatten_associations(record: Any) -> Any:
        """Listing records carry associations nested; the raw table keeps a list of ids."""
        if not isinstance(record, dict):
            return record
        links = (record.get("associations") or {}).get("contacts", {}).get("results", [])
        return {**record, "contact_ids": [link.get("id") for link in links]}

    # -- incremental --------------------------------------------------------------------------

    def _incremental(self, cursor: Cursor) -> Iterator[Page]:
        for page in self._window_pages(cursor.modified, None):
            newest = _max(cursor.modified, *(self._modified(r) for r in page))
            cursor = Cursor(newest, cursor.archived)
            yield Page(self._with_contacts(page), cursor.dump())
        archived_max = cursor.archived
        for page in self._listing(archived=True):
            fresh = [r for r in page if _is_newer(r, cursor.archived)]
            archived_max = _max(archived_max, *(_archived_ms(r) for r in fresh))
            if fresh:
                yield Page(fresh)
        yield Page([], Cursor(cursor.modified, archived_max).dump())

    def _window_pages(self, low: int, high: int | None) -> Iterator[list[dict]]:
        """Records with low <= modified < high (None: no upper bound), oldest first, halving
        the window while one query would exceed the search cap."""
        pages = self._search(low, high)
        first = next(pages, None)
        if first is None:
            return
        total = first.response.json().get("total", 0)
        if total > self.search_cap:
            pages.close()
            high = high if high is not None else self._newest_modified() + 1
            if high - low > 1:
                middle = (low + high) // 2
                yield from self._window_pages(low, middle)
                yield from self._window_pages(middle, high)
                return
            raise RuntimeError(f"{total} {self.obj.object_type} share one millisecond")
        yield list(first)
        for page in pages:
            yield list(page)

    def _search(self, low: int, high: int | None, *, limit: int = SEARCH_PAGE, descending=False):
        filters = [{"propertyName": self.obj.modified, "operator": "GTE", "value": str(low)}]
        if high is not None:
            filters.append(
                {"propertyName": self.obj.modified, "operator": "LT", "value": str(high)}
            )
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [
                {
                    "propertyName": self.obj.modified,
                    "direction": "DESCENDING" if descending else "ASCENDING",
                }
            ],
            "properties": list(self.obj.properties),
            "limit": limit,
            "after": "0",
        }
        paginator = JSONResponseCursorPaginator(
            cursor_path="paging.next.after", cursor_body_path="after"
        )
        return self.client.paginate(
            f"/crm/v3/objects/{self.obj.object_type}/search",
            method="POST",
            json=body,
            paginator=paginator,
            data_selector="results",
        )

    def _newest_modified(self) -> int | None:
        pages = self._search(0, None, limit=1, descending=True)
        first = next(pages, [])
        pages.close()
        return self._modified(first[0]) if first else None

    def _modified(self, record: Any) -> int | None:
        if not isinstance(record, dict):
            return None
        return _millis((record.get("properties") or {}).get(self.obj.modified))

    def _with_contacts(self, page: list[dict]) -> list[dict]:
        """Search answers carry no associations: read each changed deal's contacts, a few
        requests at a time (they are independent and the round trips dominate)."""
        if not self.obj.with_contacts:
            return page
        ids = [r["id"] for r in page if isinstance(r, dict) and r.get("id")]
        with ThreadPoolExecutor(ASSOCIATION_WORKERS) as pool:
            links = dict(zip(ids, pool.map(self._deal_contacts, ids), strict=True))
        return [
            {**r, "contact_ids": links[r["id"]]} if isinstance(r, dict) and r.get("id") else r
            for r in page
        ]

    def _deal_contacts(self, deal_id: str) -> list[str]:
        response = self.client.get(f"/crm/v3/objects/deals/{deal_id}/associations/contacts")
        response.raise_for_status()
        return [link["id"] for link in response.json()["results"]]


def _max(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _archived_ms(record: Any) -> int | None:
    return _millis(record.get("archivedAt")) if isinstance(record, dict) else None


def _is_newer(record: Any, archived_cursor: int | None) -> bool:
    """Archived at or after the archive cursor (malformed records pass: the parser rejects)."""
    archived_at = _archived_ms(record)
    return archived_cursor is None or archived_at is None or archived_at >= archived_cursor
