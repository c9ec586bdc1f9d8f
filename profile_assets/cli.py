"""`profile-assets`: the sandbox, the demo, the Dagster UI, the identity and scoring tools."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import click
from rich.console import Console

from profile_assets.sandbox import process as sandbox_process

console = Console(stderr=True)
# Library notices (beta parameters, missing XDG dirs) are for developers, not CLI users.
for _category in (UserWarning, DeprecationWarning):
    warnings.filterwarnings("ignore", category=_category)
warnings.filterwarnings("ignore", message=".*is currently in beta.*")


@click.group()
def main() -> None:
    """Customer profiles as Dagster assets."""


@main.group()
def sandbox() -> None:
    """Simulated vendor APIs and a storefront Postgres on 127.0.0.1."""


@sandbox.command()
@click.option("--people", default=2000, show_default=True, help="Size of the generated world.")
@click.option("--seed", default=7, show_default=True)
@click.option("--reset", is_flag=True, help="Remove the data of another world from this home.")
def up(people: int, seed: int, reset: bool) -> None:
    """Start the sandbox in the background and record its addresses and credentials."""
    with console.status(f"starting sandbox ({people:,} people, seed {seed})"):
        try:
            state = sandbox_process.start(people, seed, reset=reset)
        except sandbox_process.SandboxError as error:
            raise click.ClickException(str(error)) from error
    console.print(f"sandbox up (pid {state['pid']}); `profile-assets sandbox status --json`")


@sandbox.command()
def down() -> None:
    """Stop exactly what `sandbox up` started."""
    stopped = sandbox_process.stop()
    console.print("sandbox stopped" if stopped else "no sandbox running")


@sandbox.command()
@click.option("--json", "as_json", is_flag=True, help="Print the connector settings as JSON.")
def status(as_json: bool) -> None:
    """Show whether the sandbox runs, and its settings under the connectors' env var names."""
    if as_json:
        click.echo(sandbox_process.status_json())
        return
    state = sandbox_process.running_state()
    if not state:
        console.print("no sandbox running")
        sys.exit(1)
    console.print(f"sandbox running (pid {state['pid']}, {state.get('people', '?')} people)")
    for name in sorted(state.get("env", {})):
        console.print(f"  {name}")


@sandbox.command()
@click.option("--people", default=50, show_default=True, help="How many people change.")
@click.option("--seed", default=1, show_default=True)
def mutate(people: int, seed: int) -> None:
    """Create, update and delete records of some people in every source system."""
    from profile_assets.sandbox.client import mutate_world

    summary = mutate_world(people=people, seed=seed)
    for table, counts in sorted(summary.items()):
        console.print(f"  {table}: {counts}")


@main.command()
@click.option("--people", default=2000, show_default=True)
@click.option("--seed", default=7, show_default=True)
def demo(people: int, seed: int) -> None:
    """Sandbox -> raw -> staging -> golden profiles -> scores -> a rendered email."""
    from profile_assets.demo import run_demo

    run_demo(people=people, seed=seed, console=console)


@main.command()
def dev() -> None:
    """Run the Dagster UI and daemon on 127.0.0.1 with this project's instance settings."""
    from profile_assets.instance import prepare_dagster_home

    dagster_home = prepare_dagster_home()
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    os.environ.setdefault("PROFILE_ASSETS_ENV", "sandbox")
    dagster = Path(sys.executable).with_name("dagster")
    os.execv(str(dagster), [str(dagster), "dev", "-w", str(workspace), "-h", "127.0.0.1"])


@main.command()
@click.option("--email", required=True, help="Any address the person used.")
def erase(email: str) -> None:
    """Erase a person (GDPR/CCPA) everywhere and suppress them in later extracts."""
    from profile_assets.profiles.erasure import erase_person

    report = erase_person(email)
    console.print(report.summary())
    if not report.found:
        sys.exit(1)


@main.command()
@click.argument("input_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "output_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file; .csv or .parquet decides the format.",
)
@click.option(
    "--overrides",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Reviewed must-link / never-link YAML.",
)
def resolve(input_path: Path, output_path: Path, overrides: Path | None) -> None:
    """Resolve any CSV/Parquet file of person records into profiles (no Dagster needed)."""
    from rich.progress import Progress

    from profile_assets.identity.resolve_file import InputError, resolve_file

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("resolving", total=1.0)

        def report(stage: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=stage)

        try:
            result = resolve_file(input_path, output_path, overrides=overrides, progress=report)
        except InputError as error:
            raise click.ClickException(str(error)) from error
    profiles = result.identity_map["profile_id"].nunique()
    console.print(f"{len(result.identity_map):,} records -> {profiles:,} profiles: {output_path}")


@main.command()
@click.option(
    "--orders",
    "orders_path",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV or Parquet with customer_id, order_ts or order_date, optional amount, order_id.",
)
@click.option("--as-of", required=True, help="Scoring date YYYY-MM-DD; later orders are ignored.")
@click.option("--horizon-days", required=True, type=int, help="Prediction window after as-of.")
@click.option(
    "--out",
    "output_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file; .csv or .parquet decides the format.",
)
@click.option("--seed", default=0, show_default=True, help="Same seed, same scores.")
def score(orders_path: Path, as_of: str, horizon_days: int, output_path: Path, seed: int) -> None:
    """Score every customer in an orders file: propensity, expected order days, churn."""
    from rich.progress import Progress

    from profile_assets.ml.score_file import ScoreInputError, score_file

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("scoring", total=1.0)

        def report(stage: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=stage)

        try:
            done = score_file(
                orders_path,
                output_path,
                as_of=as_of,
                horizon_days=horizon_days,
                seed=seed,
                progress=report,
            )
        except ScoreInputError as error:
            raise click.ClickException(str(error)) from error
    for note in done.notes:
        console.print(f"note: {note}")
    for warning in done.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"{len(done.result.scores):,} customers scored: {output_path}")


@main.group()
def model() -> None:
    """The purchase models' versions: which is served, and changing that."""


@model.command("list")
def model_list() -> None:
    """Every trained version with its holdout metrics; * marks the served one."""
    from profile_assets.ml import registry

    served = registry.current()
    for version in registry.versions():
        holdout = version.card.get("holdout", {})
        mark = "*" if served and served.version == version.version else " "
        print(
            f"{mark} {version.version}  as_of {version.card.get('as_of')}  "
            f"roc_auc {holdout.get('roc_auc')}  brier {holdout.get('brier')}"
        )


@model.command()
@click.argument("version")
def promote(version: str) -> None:
    """Serve VERSION (then rematerialize ml/scores)."""
    from profile_assets.ml import registry

    try:
        registry.promote(version)
    except registry.RegistryError as error:
        raise click.ClickException(str(error)) from error
    console.print(f"serving {version}")


@model.command()
def rollback() -> None:
    """Serve the version promoted before the current one."""
    from profile_assets.ml import registry

    try:
        chosen = registry.rollback()
    except registry.RegistryError as error:
        raise click.ClickException(str(error)) from error
    console.print(f"serving {chosen.version}")


if __name__ == "__main__":
    main()
