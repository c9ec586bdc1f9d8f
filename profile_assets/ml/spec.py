"""Reviewed model specs (`models/*.yaml`) as typed, validated objects.

A spec is the contract a data scientist edits to retrain: the label and its horizon, the
features, the estimator and its hyperparameters, how the rolling-origin training set is built,
and how much worse a candidate may be before promotion refuses it. Loading validates all of it
up front (unknown keys, unknown features, unknown estimators, bad numbers), so a typo fails
with the file name and the field, not deep inside a fit.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from profile_assets.ml.features import WINDOWS

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"

#: Every column `features.base_features` + `features.btyd_features` produce.
KNOWN_FEATURES = frozenset(
    {
        "frequency",
        "recency_days",
        "age_days",
        "days_since_last",
        "rate",
        "mean_gap",
        "std_gap",
        "overdue",
        "days_last_horizon",
        "amount_total",
        "amount_mean",
        "bg_p_alive",
        "bg_expected",
        "bg_p_any",
        "pn_p_alive",
        "pn_expected",
        *(f"days_last_{w}" for w in WINDOWS),
    }
)

#: Estimator kinds the engine can build (see `training.build_estimator`).
EstimatorKind = Literal[
    "hist_gradient_boosting_classifier",
    "hist_gradient_boosting_regressor",
    "complement",
]
LabelKind = Literal["any_order_day", "no_order_day", "order_day_count"]


class SpecError(ValueError):
    """A model spec is invalid; the message names the file and the field."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelSpec(_Frozen):
    """What is predicted, over which window after the cutoff."""

    kind: LabelKind
    horizon_days: Annotated[int, Field(gt=0, le=3660)]
    description: str = ""


class EstimatorSpec(_Frozen):
    """Which estimator, with which hyperparameters (passed through to scikit-learn)."""

    kind: EstimatorKind
    params: dict[str, float | int | str | bool | None] = Field(default_factory=dict)
    #: For `complement`: the model whose probability this one is one minus.
    of: str | None = None
    #: For count models: a feature the model multiplies (it learns a correction to it).
    offset: str | None = None

    @model_validator(mode="after")
    def _complement_names_its_model(self) -> EstimatorSpec:
        if (self.kind == "complement") != (self.of is not None):
            raise ValueError("`of` is required for kind complement and only allowed there")
        if self.offset is not None and self.kind != "hist_gradient_boosting_regressor":
            raise ValueError("`offset` is only allowed for a count (regressor) model")
        return self


class TrainingSpec(_Frozen):
    """How the rolling-origin training set is stacked."""

    max_cutoffs: Annotated[int, Field(ge=1, le=52)] = 6
    #: Cutoff spacing as a fraction of the horizon (at least `min_step_days`).
    step_fraction: Annotated[float, Field(gt=0, le=2)] = 0.5
    min_step_days: Annotated[int, Field(ge=1)] = 14
    #: Days of history a cutoff needs after the first order in the data.
    min_history_days: Annotated[int, Field(ge=1)] = 30
    #: Stacked rows kept (uniform seeded sample) to bound fit time.
    max_rows: Annotated[int, Field(ge=1000)] = 300_000


class PromotionSpec(_Frozen):
    """A candidate replaces the current model unless `metric` is worse by more than this."""

    metric: Literal["roc_auc", "pr_auc", "brier", "log_loss", "poisson_deviance", "sum_ratio"]
    tolerance: Annotated[float, Field(ge=0)]


class RankingSpec(_Frozen):
    """How a propensity ranks: classifier_weight * logit(classifier) + log(expected orders).

    The expected-orders model (a correction of the Pareto/NBD) ranks best where customers
    behave like BTYD; the classifier adds what BTYD misses (regular rhythms). The level is set
    afterwards from the count model (calibration.anchor), so the weight changes order only.
    """

    classifier_weight: Annotated[float, Field(ge=0, le=10)] = 0.25


class ModelSpec(_Frozen):
    """One reviewed model: label, features, estimator, training set, promotion rule."""

    name: str
    version: Annotated[int, Field(ge=1)]
    description: str = ""
    label: LabelSpec
    features: tuple[str, ...] = ()
    estimator: EstimatorSpec
    training: TrainingSpec = TrainingSpec()
    ranking: RankingSpec = RankingSpec()
    promotion: PromotionSpec

    @model_validator(mode="after")
    def _features_exist(self) -> ModelSpec:
        unknown = sorted(set(self.features) - KNOWN_FEATURES)
        if unknown:
            raise ValueError(f"unknown features {unknown}; known: {sorted(KNOWN_FEATURES)}")
        if self.estimator.kind != "complement" and not self.features:
            raise ValueError("a trained model needs at least one feature")
        offset = self.estimator.offset
        if offset is not None and offset not in KNOWN_FEATURES:
            raise ValueError(f"unknown offset feature {offset!r}")
        return self


def load_spec(path: str | Path) -> ModelSpec:
    """Parse and validate one spec file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SpecError(f"{path}: cannot read spec: {error}") from error
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a spec is a mapping of fields, got {type(raw).__name__}")
    try:
        spec = ModelSpec.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in error.errors()
        )
        raise SpecError(f"{path}: {problems}") from error
    if spec.name != path.stem:
        raise SpecError(f"{path}: name {spec.name!r} must match the file name {path.stem!r}")
    return spec


@cache
def load_specs(directory: Path = MODELS_DIR) -> dict[str, ModelSpec]:
    """Every `*.yaml` spec in `directory` by name; complements must name a loaded model."""
    specs = {p.stem: load_spec(p) for p in sorted(Path(directory).glob("*.yaml"))}
    for spec in specs.values():
        target = spec.estimator.of
        if target is not None and target not in specs:
            raise SpecError(f"{spec.name}: complement of unknown model {target!r}")
    return specs
