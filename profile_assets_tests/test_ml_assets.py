"""The ML layer in Dagster: a model card from a holdout, versioned skops artifacts, promotion
that refuses a worse model, rollback, and one score per golden profile."""

import json

import numpy as np
import pytest
from dagster import materialize

from profile_assets.ml import registry
from profile_assets.ml.assets import ML_ASSETS, ML_CHECKS, profile_scores, read_profile_orders
from profile_assets.ml.promotion import decide
from profile_assets.ml.spec import load_specs
from profile_assets_tests.golden_support import query, run_pipeline, staged_warehouse


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    home = tmp_path_factory.mktemp("ml_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROFILE_ASSETS_HOME", str(home))
        warehouse = staged_warehouse(tmp_path_factory, "ml")
        run_pipeline(warehouse)
        result = materialize([*ML_ASSETS, *ML_CHECKS], resources={"warehouse": warehouse})
        yield warehouse, result


def _meta(result, node):
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_training_writes_a_model_card_from_a_holdout_and_promotes_the_first_model(trained):
    _, result = trained
    assert result.success
    meta = _meta(result, "ml__purchase_models")
    assert meta["promoted"] is True and meta["served_version"] == meta["model_version"]
    assert 0.6 < meta["roc_auc"] <= 1.0 and 0 < meta["brier"] < 0.25
    card = meta["model_card"]
    ratio = card["holdout"]["predicted_purchasers"] / card["holdout"]["realized_purchasers"]
    assert 0.7 < ratio < 1.3  # calibrated in sum, on data the model never saw
    assert "| 10 |" in meta["calibration_by_decile"]


def test_scores_cover_every_golden_profile_once_and_flag_the_prior(trained):
    warehouse, result = trained
    scores = query(warehouse, "SELECT * FROM ml.scores")
    golden = query(warehouse, "SELECT profile_id, orders_count FROM profiles.golden_profiles")
    assert sorted(scores["profile_id"]) == sorted(golden["profile_id"])
    assert np.allclose(scores["churn_score"], 1 - scores["purchase_propensity"])
    with warehouse.connection() as conn:
        buyers = set(read_profile_orders(conn)["customer_id"])
    prior = scores.set_index("profile_id")["is_population_prior"]
    assert prior.sum() == len(golden) - len(buyers) > 0
    assert not prior.reindex(sorted(buyers)).any()
    assert set(scores["model_version"]) == {_meta(result, "ml__purchase_models")["model_version"]}


def test_skops_artifacts_load_back_and_predict_the_same(trained, monkeypatch):
    _, result = trained
    version = _meta(result, "ml__purchase_models")["model_version"]
    home = registry.root().parents[1]  # within the fixture's patched home
    monkeypatch.setenv("PROFILE_ASSETS_HOME", str(home))
    loaded = registry.get(version).estimators()
    assert set(loaded) == {"purchase_propensity", "expected_orders"}
    path = registry.get(version).path
    assert (path / "estimators.skops").exists() and not list(path.glob("*.pkl"))
    assert json.loads((path / "card.json").read_text())["version"] == version


def test_promotion_refuses_a_model_worse_beyond_tolerance():
    spec = load_specs()["purchase_propensity"]
    served = {"holdout": {"roc_auc": 0.80}}
    ok, why = decide({"holdout": {"roc_auc": 0.797}}, served, spec)
    assert ok, why
    refused, why = decide({"holdout": {"roc_auc": 0.70}}, served, spec)
    assert not refused and "kept as a candidate" in why and "0.7000" in why


def test_rollback_serves_the_previous_promotion(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("PROFILE_ASSETS_HOME", str(tmp_path))
    empty = pd.DataFrame({"customer_id": ["P1"], "purchase_propensity": [0.5],
                          "expected_orders": [0.7], "churn_score": [0.5]})  # fmt: skip
    for version in ("v1", "v2"):
        registry.save_candidate(version, {}, {"version": version, "holdout": {}}, empty)
        registry.promote(version)
    assert registry.current().version == "v2"
    assert registry.rollback().version == "v1" and registry.current().version == "v1"
    with pytest.raises(registry.RegistryError, match="nothing to roll back"):
        registry.rollback()


def test_a_profile_without_a_score_gets_the_population_prior():
    import pandas as pd

    scored = pd.DataFrame({"customer_id": ["A", "B"], "purchase_propensity": [0.2, 0.6],
                           "expected_orders": [0.3, 1.1]})  # fmt: skip
    out = profile_scores(pd.Series(["A", "B", "C"]), scored, "v1", pd.Timestamp("2026-01-01"))
    prior = out.set_index("profile_id").loc["C"]
    assert prior["is_population_prior"] and prior["purchase_propensity"] == pytest.approx(0.4)
