"""ML assets (group `ml`, schema `ml`): thin Dagster edges over the scoring engine.

- `ml/purchase_models` trains from the reviewed specs in `models/` on every profile's orders:
  a holdout model card (train before the last horizon, compare with what happened), then the
  models fitted on all history, which score the population. The version is written to the
  registry (skops, never pickle) and promoted unless it is worse than the served one beyond
  the spec's tolerance. Its `code_version` is the specs plus the engine's code, so the UI shows
  the model as changed when either is edited.
- `ml/scores` publishes the promoted version's scores per golden profile; a profile without
  order history gets the population prior, flagged.
"""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    asset,
)

from profile_assets.contracts.asset_checks import pandera_table_check
from profile_assets.ml import registry
from profile_assets.ml.evaluation import holdout_metrics
from profile_assets.ml.profile_orders import profile_orders
from profile_assets.ml.promotion import decide
from profile_assets.ml.score import PROPENSITY, score_orders
from profile_assets.ml.spec import MODELS_DIR, load_specs
from profile_assets.ml.training import NotEnoughHistory
from profile_assets.warehouse import Warehouse, WarehouseConnection

GROUP = "ml"
MODELS_KEY = AssetKey(["ml", "purchase_models"])
SCORES_KEY = AssetKey(["ml", "scores"])
SCORES_TABLE = "ml.scores"
ORDERS_TABLE = "staging.orders"
IDENTITY_MAP = "identity.identity_map"
GOLDEN_TABLE = "profiles.golden_profiles"


def code_version() -> str:
    """Specs + engine code: editing either marks the training asset as changed."""
    digest = hashlib.sha256()
    files = sorted(MODELS_DIR.glob("*.yaml")) + sorted(Path(__file__).parent.glob("*.py"))
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


class TrainingConfig(Config):
    as_of: str = ""  # empty: the day of the newest order (the data's own clock)
    seed: int = 0


def read_profile_orders(conn: WarehouseConnection) -> pd.DataFrame:
    if not (conn.table_exists(ORDERS_TABLE) and conn.table_exists(IDENTITY_MAP)):
        return pd.DataFrame()
    return profile_orders(conn.read_table(ORDERS_TABLE), conn.read_table(IDENTITY_MAP))


def calibration_chart(calibration: pd.DataFrame) -> str:
    """Predicted vs realized purchase rate per decile, as a Markdown table with bars."""
    lines = ["| decile | predicted | realized | realized (bar) |", "|---:|---:|---:|:---|"]
    for row in calibration.itertuples(index=False):
        bar = "█" * round(20 * row.realized)
        decile = int(row.decile) + 1
        lines.append(f"| {decile} | {row.predicted:.3f} | {row.realized:.3f} | {bar} |")
    return "\n".join(lines)


@asset(
    key=MODELS_KEY,
    deps=[AssetKey(["staging", "orders"]), AssetKey(["identity", "identity_map"])],
    group_name=GROUP,
    kinds={"scikit-learn"},
    code_version=code_version(),
    description=(
        "Purchase-propensity and expected-order models trained from the specs in models/, "
        "with a holdout model card; promoted unless worse than the served version."
    ),
)
def purchase_models(
    context: AssetExecutionContext, config: TrainingConfig, warehouse: Warehouse
) -> MaterializeResult:
    with warehouse.connection() as conn:
        orders = read_profile_orders(conn)
    if orders.empty:
        context.log.warning("no orders resolved to profiles yet: nothing to train on")
        return MaterializeResult(metadata={"status": "no orders yet"})
    specs = load_specs()
    horizon = specs[PROPENSITY].label.horizon_days
    as_of = pd.Timestamp(config.as_of) if config.as_of else pd.Timestamp(orders["order_date"].max())
    try:
        holdout, calibration = holdout_metrics(orders, as_of, horizon, seed=config.seed)
    except (NotEnoughHistory, ValueError) as reason:
        holdout, calibration = {"note": f"no holdout: {reason}"}, pd.DataFrame()
    result = score_orders(orders, as_of, horizon, specs=specs, seed=config.seed)
    for warning in result.warnings:
        context.log.warning(warning)
    version = f"v{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%S}-{code_version()[:6]}"
    card = {
        "version": version,
        "code_version": code_version(),
        "specs": {name: spec.version for name, spec in specs.items()},
        "as_of": str(as_of.date()),
        "horizon_days": horizon,
        "training_cutoffs": len(result.plan.cutoffs),
        "training_rows": result.training_rows,
        "customers_scored": len(result.scores),
        "orders": len(orders),
        "features": list(specs[PROPENSITY].features),
        "holdout": holdout,
        "warnings": list(result.warnings),
    }
    estimators = {name: model.estimator for name, model in result.models.items()}
    registry.save_candidate(version, estimators, card, result.scores)
    served = registry.current()
    promote, reason = decide(card, served.card if served else None, specs[PROPENSITY])
    if promote:
        registry.promote(version)
    context.log.info(f"model {version}: {reason}")
    return MaterializeResult(
        metadata={
            "model_version": version,
            "promoted": promote,
            "promotion": reason,
            "served_version": version if promote else (served.version if served else "none"),
            **{k: v for k, v in holdout.items() if isinstance(v, int | float)},
            "training_rows": result.training_rows,
            "customers_scored": len(result.scores),
            "as_of": card["as_of"],
            "calibration_by_decile": MetadataValue.md(
                calibration_chart(calibration) if len(calibration) else "no holdout"
            ),
            "model_card": MetadataValue.json(card),
        }
    )


class ScoresConfig(Config):
    version: str = ""  # empty: the promoted version


def profile_scores(
    profile_ids: pd.Series, scores: pd.DataFrame, version: str, at: pd.Timestamp
) -> pd.DataFrame:
    """One row per profile: the version's score, or the population prior when it has none."""
    scored = scores.rename(columns={"customer_id": "profile_id"}).set_index("profile_id")
    out = pd.DataFrame({"profile_id": profile_ids.astype(str).to_numpy()})
    out = out.join(scored, on="profile_id")
    prior = out["purchase_propensity"].isna()
    out["purchase_propensity"] = out["purchase_propensity"].fillna(
        scored["purchase_propensity"].mean() if len(scored) else 0.0
    )
    out["expected_orders"] = out["expected_orders"].fillna(
        scored["expected_orders"].mean() if len(scored) else 0.0
    )
    out["churn_score"] = 1.0 - out["purchase_propensity"]
    out["is_population_prior"] = prior.to_numpy()
    out["model_version"] = version
    out["scored_at"] = at
    return out[
        ["profile_id", "churn_score", "purchase_propensity", "expected_orders",
         "is_population_prior", "model_version", "scored_at"]
    ]  # fmt: skip


@asset(
    key=SCORES_KEY,
    deps=[MODELS_KEY, AssetKey(["profiles", "golden_profiles"])],
    group_name=GROUP,
    kinds={"scikit-learn", "duckdb"},
    description=(
        "Churn, purchase propensity (P(order in the horizon)) and expected order days per "
        "golden profile, from the promoted model; profiles without orders get the prior."
    ),
    metadata={
        "dagster/table_name": SCORES_TABLE,
        "primary_key": "profile_id",
        "dagster/column_schema": TableSchema(
            columns=[
                TableColumn("profile_id", "string"),
                TableColumn("churn_score", "double", "P(no order in the horizon)"),
                TableColumn("purchase_propensity", "double", "P(at least one order day)"),
                TableColumn("expected_orders", "double", "expected order days in the horizon"),
                TableColumn("is_population_prior", "boolean", "no history: population mean"),
                TableColumn("model_version", "string"),
                TableColumn("scored_at", "timestamp"),
            ]
        ),
    },
)
def scores(config: ScoresConfig, warehouse: Warehouse) -> MaterializeResult:
    served = registry.get(config.version) if config.version else registry.current()
    with warehouse.connection() as conn:
        profiles = conn.query_df(f"SELECT profile_id FROM {GOLDEN_TABLE}")["profile_id"]
        none = pd.DataFrame(columns=["customer_id", "purchase_propensity", "expected_orders"])
        version = served.version if served else "none"
        served_scores = served.scores() if served else none
        frame = profile_scores(profiles, served_scores, version, pd.Timestamp.now(tz="UTC"))
        with conn.unit_of_work() as unit:
            unit.replace(frame, SCORES_TABLE, exact_columns=True)
    quantiles = (
        np.quantile(frame["purchase_propensity"], [0.1, 0.25, 0.5, 0.75, 0.9]) if len(frame) else []
    )
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "model_version": served.version if served else "none",
            "population_prior_rows": int(frame["is_population_prior"].sum()),
            "predicted_purchasers": round(float(frame["purchase_propensity"].sum()), 1),
            "predicted_order_days": round(float(frame["expected_orders"].sum()), 1),
            "propensity_quantiles": MetadataValue.json(
                dict(zip(["p10", "p25", "p50", "p75", "p90"], map(float, quantiles), strict=False))
            ),
        }
    )


ML_ASSETS = [purchase_models, scores]


def scores_schema():
    import pandera.pandas as pa

    unit = pa.Check.in_range(0.0, 1.0)
    return pa.DataFrameSchema(
        {
            "profile_id": pa.Column(str, unique=True),
            "churn_score": pa.Column(float, unit),
            "purchase_propensity": pa.Column(float, unit),
            "expected_orders": pa.Column(float, pa.Check.ge(0)),
        },
        name="scores",
    )


ML_CHECKS = [pandera_table_check(SCORES_KEY, SCORES_TABLE, scores_schema, blocking=True)]
