"""How hard the world is: the naive baselines it must defeat, measured against its truth.

Tests assert these on small worlds; the benchmark reports them at a million people. They read
the ground truth, so nothing in the pipeline may call them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.preprocessing import StandardScaler

from profile_assets.sandbox.world import ID_COLUMNS, World

EMAIL_COLUMNS: dict[str, str] = {
    "crm_contacts": "email",
    "support_users": "email",
    "storefront_customers": "email",
    "file_contacts": "E-mail",
}


def truth_of(world: World, table: str, column: str = "person_id") -> np.ndarray:
    """A truth column (person_id or broken_reason) for every row of `table`, in row order."""
    truth = world.truth_records
    mine = truth[truth["source"] == table]
    lookup = pd.Series(mine[column].to_numpy(), index=mine["source_id"].astype(str).to_numpy())
    ids = world.tables[table][ID_COLUMNS.get(table, "id")].astype(str)
    return lookup.reindex(ids).to_numpy()


def identity_records(world: World) -> pd.DataFrame:
    """Every person record of the identity tables: true person and lowercased email."""
    return pd.concat(
        pd.DataFrame(
            {
                "source": table,
                "person": truth_of(world, table),
                "email": world.tables[table][column].str.lower().to_numpy(),
            }
        )
        for table, column in EMAIL_COLUMNS.items()
    )


@dataclass(frozen=True)
class PairRecall:
    true_pairs: int  # pairs of records of the same person, within and across sources
    found_by_email: int  # of those, pairs sharing a lowercased email

    @property
    def recall(self) -> float:
        return self.found_by_email / self.true_pairs


def email_pair_recall(world: World) -> PairRecall:
    """How many true duplicate pairs exact matching on lowercased email would find."""
    records = identity_records(world)
    per_person = records.groupby("person").size()
    same = records.dropna(subset=["email"]).groupby(["person", "email"]).size()
    return PairRecall(
        true_pairs=int((per_person * (per_person - 1) // 2).sum()),
        found_by_email=int((same * (same - 1) // 2).sum()),
    )


def namesake_people(first: pd.Series, last: pd.Series) -> int:
    """People who share their first and last name with at least one other person."""
    sizes = pd.DataFrame({"first": first, "last": last}).groupby(["first", "last"]).size()
    return int(sizes[sizes > 1].sum())


def churn_features(world: World) -> pd.DataFrame:
    """A handful of pre-cutoff behaviour features per storefront person, from the tables only
    (plus truth to know which records are whose, as a perfect identity resolution would)."""
    cutoff, t = world.cutoff, world.tables
    shop = pd.Series(
        truth_of(world, "storefront_customers"), index=t["storefront_customers"]["id"].to_numpy()
    )
    orders = t["storefront_orders"][t["storefront_orders"]["order_ts"] <= cutoff]
    order_person = shop.reindex(orders["customer_id"]).to_numpy()
    order_days = (cutoff - orders["order_ts"]).dt.days.to_numpy()
    web = t["web_user_days"].dropna(subset=["user_id"])
    web_days = (cutoff.tz_convert(None) - pd.to_datetime(web["date"])).dt.days.to_numpy()
    web_person = shop.reindex(web["user_id"].astype(np.int64)).to_numpy()
    past = web_days >= 0
    web = pd.DataFrame(
        {"person": web_person[past], "days": web_days[past], "sessions": web["sessions"][past]}
    )
    orders = pd.DataFrame({"person": order_person, "days": order_days})
    carts = t["storefront_carts"].dropna(subset=["customer_id"])
    carts = carts[carts["created_at"] <= cutoff]
    carts = carts.assign(person=shop.reindex(carts["customer_id"].astype(np.int64)).to_numpy())
    users = pd.Series(truth_of(world, "support_users"), index=t["support_users"]["id"].to_numpy())
    tickets = t["support_tickets"][t["support_tickets"]["created_at"] <= cutoff]
    tickets = tickets.assign(person=users.reindex(tickets["requester_id"]).to_numpy())
    first_seen = t["storefront_customers"].groupby(shop.to_numpy())["created_at"].min()
    recent_orders = orders[orders["days"] < 90]
    features = pd.DataFrame(
        {
            "recency": pd.concat(
                [orders.groupby("person")["days"].min(), web.groupby("person")["days"].min()],
                axis=1,
            ).min(axis=1),
            "orders_90": recent_orders.groupby("person").size(),
            "orders_prior": orders[orders["days"] >= 90].groupby("person").size(),
            "web_90": web[web["days"] < 90].groupby("person")["sessions"].sum(),
            "web_prior": web[web["days"] >= 90].groupby("person")["sessions"].sum(),
            "abandoned": carts[carts["status"] == "abandoned"].groupby("person").size(),
            "carts": carts.groupby("person").size(),
            "bad_ratings": tickets[tickets["satisfaction_score"] == "bad"].groupby("person").size(),
            "tickets": tickets.groupby("person").size(),
            "tenure": (cutoff - first_seen).dt.days,
        }
    )
    features = features.dropna(subset=["recency", "tenure"]).fillna(0)
    return features[features["tenure"] > 0]


@dataclass(frozen=True)
class ChurnBaselines:
    people: int  # storefront people active at the cutoff
    churn_rate: float
    recency_auc: float  # days since last order or visit, alone
    model_auc: float  # a logistic regression on the behaviour features (5-fold CV)


def churn_baselines(world: World) -> ChurnBaselines:
    """Recency alone versus a plain logistic regression, on people active at the cutoff."""
    features = churn_features(world)
    labels = world.truth_labels.set_index("person_id").reindex(features.index)
    features = features[labels["active_at_cutoff"].to_numpy()]
    churned = labels.loc[features.index, "churned"].to_numpy()
    x = np.log1p(features.clip(lower=0).to_numpy(dtype=float))
    x = np.column_stack([x, features["abandoned"] / features["carts"].clip(lower=1)])
    scores = cross_val_predict(
        LogisticRegression(max_iter=2_000),
        StandardScaler().fit_transform(x),
        churned,
        cv=5,
        method="predict_proba",
    )[:, 1]
    return ChurnBaselines(
        people=len(features),
        churn_rate=float(churned.mean()),
        recency_auc=float(roc_auc_score(churned, features["recency"])),
        model_auc=float(roc_auc_score(churned, scores)),
    )
