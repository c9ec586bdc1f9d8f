"""Model specs: the reviewed files load, drive the estimators, and bad specs fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from profile_assets.ml.spec import MODELS_DIR, SpecError, load_spec, load_specs
from profile_assets.ml.training import build_estimator


def test_reviewed_specs_load_with_their_contracts():
    specs = load_specs()
    assert set(specs) == {"churn", "purchase_propensity", "expected_orders"}
    assert specs["churn"].estimator.of == "purchase_propensity"
    assert specs["expected_orders"].label.kind == "order_day_count"
    assert specs["expected_orders"].estimator.offset == "pn_expected"
    assert all(s.promotion.tolerance >= 0 for s in specs.values())


def test_estimator_takes_its_hyperparameters_from_the_spec():
    spec = load_specs()["purchase_propensity"]
    estimator = build_estimator(spec.estimator, seed=4)
    assert estimator.max_iter == spec.estimator.params["max_iter"]
    assert estimator.learning_rate == spec.estimator.params["learning_rate"]
    assert estimator.random_state == 4


def _write(tmp_path: Path, name: str, edit) -> Path:
    raw = yaml.safe_load((MODELS_DIR / "purchase_propensity.yaml").read_text())
    edit(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r["features"].append("favourite_colour"), "unknown features"),
        (lambda r: r.update(surprise=1), "surprise"),
        (lambda r: r["label"].update(horizon_days=-5), "label.horizon_days"),
        (lambda r: r["estimator"].update(kind="deep_net"), "estimator.kind"),
        (lambda r: r["training"].update(max_cutoffs=0), "training.max_cutoffs"),
        (lambda r: r.pop("promotion"), "promotion"),
    ],
)
def test_bad_spec_names_file_and_field(tmp_path, edit, message):
    path = _write(tmp_path, "purchase_propensity", edit)
    with pytest.raises(SpecError) as error:
        load_spec(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_spec_name_must_match_its_file(tmp_path):
    path = _write(tmp_path, "other_name", lambda r: None)
    with pytest.raises(SpecError, match="must match the file name"):
        load_spec(path)
