"""Talk to a running sandbox's control endpoint (world mutations)."""

from __future__ import annotations

import httpx

from profile_assets.sandbox.process import SandboxError, running_state


def control_url() -> str:
    state = running_state()
    if not state:
        raise SandboxError("no sandbox running: start one with `profile-assets sandbox up`")
    return state["control_url"]


def mutate_world(*, people: int, seed: int) -> dict:
    """Ask the sandbox to change `people` people's records in every source (APIs and Postgres)."""
    response = httpx.post(
        f"{control_url()}/_sandbox/mutate", json={"people": people, "seed": seed}, timeout=120
    )
    response.raise_for_status()
    return response.json()
