"""After `prefect deploy`: mark this project's runs Crashed when their process stops answering.

    .venv/bin/python scripts/crash_unresponsive_runs.py   (run by `scripts/prefect-stack.sh deploy`)

A run whose flow process dies together with its worker (the machine reboots, the OOM
killer takes both, a container is evicted) has nobody left to report its end: the
server shows it Running for ever. Prefect's answer for a self-hosted server is an
automation over the heartbeats every flow run sends: after a run's heartbeat, expect
another event of that run (a heartbeat or any state change) within `within` seconds,
else set it Crashed (https://docs.prefect.io/v3/advanced/detect-zombie-flows). Crashed
is final for the server: the deployment's concurrency slot is free and it is not
retried; the run's staging folder stays for `imbalance prune`.

The heartbeat period is the deployments' own (`PREFECT_FLOWS_HEARTBEAT_FREQUENCY` in
prefect.yaml's `job_variables.env`: the worker gives it to every flow process it
starts), read here from prefect.yaml, so the window always matches what the runs send.
`within` is three periods (Prefect's advice: a missed heartbeat is not a death), or
`IMBALANCE_UNRESPONSIVE_SECONDS` if set, which must be at least two periods. Only runs
tagged `imbalance-flow` (both deployments) are watched: another project's runs on the
same server keep their own rules. Idempotent: the automation of the same name is
replaced, and only once the new one is known to be valid.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import yaml
from prefect.automations import Automation
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import PrefectHTTPStatusError

PROJECT = Path(__file__).resolve().parents[1]
NAME = "imbalance-flow: crash unresponsive runs"
TAG = "imbalance-flow"
HEARTBEAT_VARIABLE = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"
MISSED_HEARTBEATS = 3
MIN_PERIODS = 2


def heartbeat_seconds(specs: list[dict]) -> int:
    """Return the deployments' heartbeat period, the same in all of them (prefect.yaml)."""
    periods = set()
    for spec in specs:
        env = ((spec.get("work_pool") or {}).get("job_variables") or {}).get("env") or {}
        value = str(env.get(HEARTBEAT_VARIABLE, "")).strip()
        if not value.isdigit() or int(value) < 30:
            raise ValueError(
                f"deployment {spec.get('name')!r} in prefect.yaml must set "
                f"job_variables.env.{HEARTBEAT_VARIABLE} to a whole number of seconds >= 30, "
                f"got {value or 'nothing'}"
            )
        periods.add(int(value))
    if len(periods) != 1:
        raise ValueError(f"the deployments' {HEARTBEAT_VARIABLE} differ: {sorted(periods)}")
    return periods.pop()


def within_seconds(heartbeat: int) -> int:
    """Return how long a run may stay silent: three heartbeats, or the environment's choice."""
    given = os.environ.get("IMBALANCE_UNRESPONSIVE_SECONDS", "").strip()
    if not given:
        return MISSED_HEARTBEATS * heartbeat
    if not given.isdigit() or int(given) < MIN_PERIODS * heartbeat:
        raise ValueError(
            f"IMBALANCE_UNRESPONSIVE_SECONDS must be a whole number of seconds of at least "
            f"{MIN_PERIODS} heartbeats ({MIN_PERIODS * heartbeat}), got {given!r}: a shorter "
            "window would crash healthy runs"
        )
    return int(given)


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
            # ("Skipped", "TimedOut", "AwaitingRetry") included.
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
                    "Its staging folder stays for `imbalance prune`."
                ),
            )
        ],
    )


def main() -> int:
    try:
        specs = yaml.safe_load((PROJECT / "prefect.yaml").read_text())["deployments"]
        within = within_seconds(heartbeat_seconds(specs))
        new = automation(within)  # validated before the old one goes
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as problem:
        sys.stderr.write(f"crash_unresponsive_runs: {problem}\n")
        return 1
    try:
        with get_client(sync_client=True) as client:
            for old in client.read_automations_by_name(name=NAME):
                client.delete_automation(old.id)
        created = new.create()
    except (httpx.HTTPError, PrefectHTTPStatusError) as problem:
        sys.stderr.write(
            f"crash_unresponsive_runs: the Prefect server refused or failed: {problem}\n"
        )
        return 1
    sys.stderr.write(
        f"crash_unresponsive_runs: '{NAME}' sets a silent run Crashed after {within} s "
        f"(automation {created.id})\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
