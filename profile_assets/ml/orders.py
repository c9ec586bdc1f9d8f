"""Orders in, one clean frame out: `customer_id`, `order_date` (a day), `amount`.

The scoring engine counts order *days*, so timestamps are floored to the day. Headers are
matched leniently ("Customer ID", "customer-id", "CUSTOMER_ID" are one column) because the
files come from anywhere. Rows that cannot be used (no customer, unparsable date, negative
amount such as a return) are dropped and counted, never silently: the counts travel in
`OrdersLoad.dropped` and the CLI prints them. A file that cannot be used at all raises
`OrdersError` with a message saying what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: Accepted headers (folded: lower case, no spaces or punctuation) per canonical column.
ALIASES = {
    "customer_id": ("customerid", "customer", "custid", "clientid", "userid"),
    "order_ts": ("orderts", "ordertimestamp", "orderdatetime", "ordertime", "timestamp"),
    "order_date": ("orderdate", "date", "invoicedate", "purchasedate", "transactiondate"),
    "amount": ("amount", "orderamount", "total", "ordertotal", "revenue", "value"),
    "order_id": ("orderid", "invoiceno", "invoice", "transactionid"),
}


class OrdersError(ValueError):
    """The orders cannot be scored as given; the message says how to fix it."""


@dataclass(frozen=True)
class OrdersLoad:
    """Clean orders plus how many input rows were dropped, by reason."""

    orders: pd.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)

    def drop_summary(self) -> str:
        """One line for a user, empty when nothing was dropped."""
        parts = [f"{count:,} {reason}" for reason, count in self.dropped.items() if count]
        return "dropped rows: " + ", ".join(parts) if parts else ""


def read_orders(path: str | Path) -> OrdersLoad:
    """Read a CSV or Parquet orders file and clean it (see `clean_orders`)."""
    path = Path(path)
    if not path.exists():
        raise OrdersError(f"{path}: no such file")
    kind = file_kind(path)
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError as error:
        raise OrdersError(f"{path}: the file is empty") from error
    except (ValueError, OSError) as error:
        raise OrdersError(f"{path}: cannot read as {kind}: {error}") from error
    return clean_orders(frame)


def clean_orders(frame: pd.DataFrame) -> OrdersLoad:
    """Canonical columns, dates as days, unusable rows dropped and counted."""
    columns = _recognize(frame.columns)
    if "customer_id" not in columns:
        raise OrdersError(_missing("a customer_id column", frame.columns))
    date_column = columns.get("order_ts") or columns.get("order_date")
    if date_column is None:
        raise OrdersError(_missing("an order_ts or order_date column", frame.columns))
    if frame.empty:
        raise OrdersError("the file has a header but no orders")

    customer = frame[columns["customer_id"]].astype("string").str.strip()
    dates = _parse_dates(frame[date_column])
    amount = (
        pd.to_numeric(frame[columns["amount"]], errors="coerce")
        if "amount" in columns
        else pd.Series(float("nan"), index=frame.index)
    )
    no_customer = customer.isna() | (customer == "")
    bad_date = dates.isna() & ~no_customer
    negative = (amount < 0) & ~no_customer & ~bad_date
    keep = ~(no_customer | bad_date | negative)
    orders = pd.DataFrame(
        {
            "customer_id": customer[keep].astype(str).to_numpy(),
            "order_date": dates[keep].dt.floor("D").to_numpy(),
            "amount": amount[keep].astype(float).to_numpy(),
        }
    )
    if orders.empty:
        raise OrdersError(
            f"no usable orders: {int(no_customer.sum()):,} without customer_id, "
            f"{int(bad_date.sum()):,} with unparsable dates, {int(negative.sum()):,} negative"
        )
    dropped = {
        "without customer_id": int(no_customer.sum()),
        "with unparsable dates": int(bad_date.sum()),
        "with negative amounts": int(negative.sum()),
    }
    return OrdersLoad(orders, dropped)


def file_kind(path: Path) -> str:
    """'csv' or 'parquet' from the extension; anything else is a user error."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        return "csv"
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    raise OrdersError(f"{path}: expected a .csv or .parquet file")


def _recognize(headers: pd.Index) -> dict[str, str]:
    """Canonical name -> the input header it was found under (first match wins)."""
    folded = {_fold(h): h for h in reversed(list(headers))}
    found = {}
    for canonical, aliases in ALIASES.items():
        for alias in (_fold(canonical), *aliases):
            if alias in folded:
                found[canonical] = folded[alias]
                break
    return found


def _parse_dates(values: pd.Series) -> pd.Series:
    """Datetimes (timezone dropped after conversion to UTC); unparsable values become NaT.

    Plain 8-digit numbers are read as YYYYMMDD (CDNOW-style files).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    else:
        text = values.astype("string").str.strip()
        compact = text.str.fullmatch(r"\d{8}").fillna(False)
        parsed = pd.to_datetime(text.where(~compact), errors="coerce", utc=True, format="mixed")
        if compact.any():
            parsed[compact] = pd.to_datetime(
                text[compact], format="%Y%m%d", errors="coerce", utc=True
            )
    return parsed.dt.tz_localize(None)


def _fold(text: object) -> str:
    return re.sub(r"[\W_]", "", str(text).casefold())


def _missing(what: str, headers: pd.Index) -> str:
    shown = ", ".join(map(str, headers)) or "none"
    return f"no {what} (columns: {shown})"
