"""After `prefect deploy`: mark this project's runs Crashed when their process stops answering.

    .venv/bin/python scripts/crash_unresponsive_runs.py   (run by `scripts/prefect-stack.sh deploy`)

A run whose flow process dies together with its worker (the machine reboots, the OOM
killer takes both, a container is evicted) has nobody left to report its end: the
server shows it Running for ever. Prefect's answer for a self-hosted server is an
automation over the heartbeats every flow run sends (`PREFECT_FLOWS_HEARTBEAT_FREQUENCY`,
180 s by default in Prefect 3.9): after a run's heartbeat, expect another event of
that run (a heartbeat or any state change) within `within` seconds, else set it
Crashed (https://docs.prefect.io/v3/advanced/detect-zombie-flows). Crashed is final:
the deployment's concurrency slot is free, the server does not retry it, and its
staging folder stays for `imbalance prune` (never promoted, never counted).

`within` is three heartbeats (Prefect's advice: two missed ones are not a death), or
`IMBALANCE_UNRESPONSIVE_SECONDS` if set. Only runs tagged `imbalance-flow` (both
deployments in prefect.yaml) are watched: another project's runs on the same server
keep their own rules. Idempotent: the automation of the same name is replaced.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta

from prefect.automations import Automation
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.settings import get_current_settings

NAME = "imbalance-flow: crash unresponsive runs"
TAG = "imbalance-flow"
MISSED_HEARTBEATS = 3


def within_seconds() -> int:
    """Return how long a run may stay silent, from the environment or the heartbeat setting."""
    given = os.environ.get("IMBALANCE_UNRESPONSIVE_SECONDS", "").strip()
    if given:
        seconds = int(given)
        if seconds < 1:
            raise ValueError(f"IMBALANCE_UNRESPONSIVE_SECONDS must be positive, got {given}")
        return seconds
    heartbeat = get_current_settings().flows.heartbeat_frequency
    if heartbeat is None:
        raise ValueError(
            "flow run heartbeats are off (PREFECT_FLOWS_HEARTBEAT_FREQUENCY is unset): "
            "set it (>= 30 s) where the worker runs, or IMBALANCE_UNRESPONSIVE_SECONDS"
        )
    return MISSED_HEARTBEATS * heartbeat


def automation(within: int) -> Automation:
    return Automation(
        name=NAME,
        description=(
            f"A flow run tagged {TAG} that sent a heartbeat and then nothing for {within} s "
            "(its process died with its worker) is set Crashed."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            # Any event of the run disarms it: heartbeats and every state, custom names
            # ("Skipped", "TimedOut") included.
            expect={"prefect.flow-run.*"},
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification({"prefect.resource.id": f"prefect.tag.{TAG}"}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=within),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=(
                    f"No heartbeat for {within} s: the run's process died (with its worker?). "
                    "Nothing was promoted; its staging folder stays for `imbalance prune`."
                ),
            )
        ],
    )


def main() -> int:
    try:
        within = within_seconds()
    except ValueError as problem:
        sys.stderr.write(f"crash_unresponsive_runs: {problem}\n")
        return 1
    with get_client(sync_client=True) as client:
        for old in client.read_automations_by_name(name=NAME):
            client.delete_automation(old.id)
    created = automation(within).create()
    sys.stderr.write(
        f"crash_unresponsive_runs: '{NAME}' sets a silent run Crashed after {within} s "
        f"(automation {created.id})\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
