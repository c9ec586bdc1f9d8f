"""Email opt-outs: people who said "no more email" are not served at that address.

`ops.email_opt_outs` holds salted hashes of canonical email keys (the suppression salt and
key, see profiles/suppression.py), so the list itself holds no addresses yet every spelling
of an address ("J.Doe+news@gmail.com", "jdoe@gmail.com") is one opt-out.
"""

from __future__ import annotations

import pandas as pd

from profile_assets.privacy.suppression import email_suppression_hash
from profile_assets.warehouse import WarehouseConnection

OPT_OUTS_TABLE = "ops.email_opt_outs"


def record_opt_out(conn: WarehouseConnection, email: str, *, source: str) -> str:
    """Store the opt-out of `email` (idempotent); returns its hash."""
    digest = email_suppression_hash(email)
    row = pd.DataFrame(
        {"opt_out_hash": [digest], "source": [source], "created_at": [pd.Timestamp.now(tz="UTC")]}
    )
    conn.merge_df(row, OPT_OUTS_TABLE, ["opt_out_hash"])
    return digest
