"""The deployments as a user meets them: a real server, `make deploy`'s script, a worker.

The stack (stack.py, the fixtures in conftest.py): one server for the module, deployed
from a temporary copy of the project; runs created the way the UI's Run button does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from stack import children, gone, run_logs, start_run, tail, wait_for_end

from imbalance.store import RunPaths
from tasks.publish import (
    DRIFT_KEY,
    METRICS_KEY,
    PROGRESS_KEY,
    REPORT_KEY,
    RUN_DIR_KEY,
    TABLE_COLUMNS,
    report_with_inline_plots,
)

pytestmark = [pytest.mark.slow, pytest.mark.server]

VARIANTS = ["baseline", "balanced", "manual"]
# Runs heartbeat every 30 s (prefect.yaml); `make deploy`'s automation is set here to 60 s
# of silence (two missed heartbeats, the least it accepts, not three), so that the
# dead-run test waits about a minute.
SILENCE_SECONDS = 60
STACK_ENV = {"IMBALANCE_UNRESPONSIVE_SECONDS": str(SILENCE_SECONDS)}


def test_the_nightly_deployment_has_its_schedule_pool_limit_and_form(stack):
    nightly = stack.deployment("nightly-retrain")
    [schedule] = nightly["schedules"]
    assert schedule["schedule"]["cron"] == "0 2 * * *"
    assert schedule["schedule"]["timezone"] == "UTC"
    assert schedule["active"]
    assert nightly["work_pool_name"] == "local-process"
    assert nightly["global_concurrency_limit"]["limit"] == 1
    with stack.client() as api:  # and one run at a time across both deployments
        pool = api.get("/work_pools/local-process").raise_for_status().json()
    assert pool["concurrency_limit"] == 1
    assert nightly["enforce_parameter_schema"] is True
    # A run outlives its worker: its output does not go through a pipe to the worker.
    assert nightly["job_variables"]["stream_output"] is False
    assert nightly["job_variables"]["env"] == {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}
    assert {"retrain", "nightly"} <= set(nightly["tags"])
    # `{{ $PWD }}` became the folder it was deployed from: any clone works.
    [step] = nightly["pull_steps"]
    directory = step["prefect.deployments.steps.set_working_directory"]["directory"]
    assert Path(directory) == stack.project

    schema = nightly["parameter_openapi_schema"]
    assert schema["additionalProperties"] is False  # scripts/close_parameter_schema.py
    # The form's groups: one per section, each with its title, its fields documented.
    definitions = schema["definitions"]
    sections = definitions["RetrainConfig"]["properties"]
    assert schema["properties"]["cfg"]["default"]["training"]["epochs"] == 50
    fields = {}
    for section, ref in sections.items():
        assert ref.get("title") and ref.get("description"), section
        properties = definitions[ref["$ref"].rsplit("/", 1)[1]]["properties"]
        fields |= {f"{section}.{name}": field for name, field in properties.items()}
    for name, field in fields.items():
        assert field.get("title") and field.get("description"), name
    epochs = fields["training.epochs"]
    assert (epochs["minimum"], epochs["maximum"]) == (1, 1000)
    assert fields["generator.minority_fraction"]["exclusiveMinimum"] == 0
    assert fields["selection.metric"]["enum"] == ["pr_auc", "roc_auc", "recall", "f1"]
    assert fields["selection.variants"]["default"] == VARIANTS  # filled in on the form

    manual = stack.deployment("manual-retrain")
    assert manual["schedules"] == []
    assert manual["work_pool_name"] == "local-process"
    assert manual["enforce_parameter_schema"] is True
    assert manual["parameter_openapi_schema"]["additionalProperties"] is False
    assert manual["job_variables"]["stream_output"] is False
    assert manual["job_variables"]["env"] == {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}
    # A run from the UI's form is an experiment unless its author says otherwise.
    assert manual["parameters"]["cfg"] == {"gate": {"promote": False}}
    # Each night generates new data (seeded by its date): there is something to learn.
    assert nightly["parameters"]["cfg"] == {"generator": {"nightly_data": True}}


@pytest.mark.parametrize(
    ("cfg", "extra", "field"),
    [
        ({"training": {"epochs": 0}}, {}, "cfg.training.epochs"),
        ({"generator": {"minority_fraction": 2}}, {}, "cfg.generator.minority_fraction"),
        ({"training": {"epoch": 2}}, {}, "'epoch' was unexpected"),
        # The flat form of earlier versions is checked by the same rules.
        ({"epochs": 0}, {}, "cfg.epochs"),
        # A name the flow does not take: refused here, not a SignatureMismatchError on the
        # worker (the top level is closed by scripts/close_parameter_schema.py).
        ({}, {"foo": 1}, "'foo'"),
    ],
)
def test_a_bad_parameter_from_the_ui_is_refused_before_any_work(stack, tmp_path, cfg, extra, field):
    artifacts = tmp_path / "artifacts"
    deployment_id = stack.deployment("manual-retrain")["id"]
    count = {"deployments": {"id": {"any_": [deployment_id]}}}
    with stack.client() as api:
        before = api.post("/flow_runs/count", json=count).json()
        refused = api.post(
            f"/deployments/{deployment_id}/create_flow_run",
            json={
                "parameters": {"cfg": cfg | {"storage": {"artifacts_dir": str(artifacts)}}} | extra
            },
        )
        after = api.post("/flow_runs/count", json=count).json()
    assert refused.status_code in (409, 422), refused.text
    assert field in refused.json()["detail"]
    assert after == before
    assert not artifacts.exists()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_a_run_outlives_its_killed_worker(stack, worker, tmp_path):
    """SIGKILL the worker while its run trains: the run still completes, once, on disk."""
    artifacts = tmp_path / "artifacts"
    # In the flat form of earlier versions: the server and the flow still take it.
    cfg = {"n_samples": 5000, "epochs": 2, "artifacts_dir": str(artifacts)}
    deployment_id = stack.deployment("manual-retrain")["id"]
    flow_processes: list[int] = []
    try:
        with stack.client() as api:
            # The run has started its work: its staging folder exists.
            flow_run_id = start_run(
                api, stack, worker, deployment_id, cfg, lambda _: (artifacts / ".staging").exists()
            )
            flow_processes = children(worker.pid)
            assert flow_processes, "the worker runs no flow process"
            worker.kill()  # SIGKILL: no clean-up of any kind by the worker
            worker.wait(10)

            flow_run = wait_for_end(api, flow_run_id, None, stack.logs)
            # Without stream_output: false, CRASHED: "Execution was aborted by Python system
            # exit call" (rich's answer to the broken pipe to the dead worker).
            assert flow_run["state_type"] == "COMPLETED", (
                f"{flow_run['state_name']}: {flow_run['state']['message']}\n"
                + run_logs(api, flow_run_id)
            )
            assert flow_run["run_count"] == 1
            # Its heartbeats went on without the worker: never Crashed on the way (a
            # Crashed run may still be set Completed, so the last state alone would hide it).
            states = api.get("/flow_run_states/", params={"flow_run_id": flow_run_id}).json()
            assert "CRASHED" not in {state["type"] for state in states}, states
        deadline = time.monotonic() + 30
        while not all(gone(pid) for pid in flow_processes) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(gone(pid) for pid in flow_processes), "the flow process did not exit"
        [run_dir] = (artifacts / "runs").iterdir()
        assert run_dir.name == flow_run["name"]
        assert json.loads((run_dir / "manifest.json").read_text())["status"] == "completed"
        staging = artifacts / ".staging"
        assert not staging.exists() or not any(staging.iterdir())
        # Needs `retries=1` on the flow (flows/retrain.py): a run that fails (an exception,
        # not a crash) is run again once, in its own process, after retry_delay_seconds.
        assert flow_run["empirical_policy"]["retries"] == 1
    finally:  # the worker fixture stops the worker if it still runs
        for pid in flow_processes:
            if not gone(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


# The server's triggers service evaluates proactive triggers every few seconds: a margin.
CRASH_SECONDS = SILENCE_SECONDS + 45


def _heartbeats(api, flow_run_id: str) -> int:
    found = api.post(
        "/events/filter",
        json={
            "filter": {
                "event": {"name": ["prefect.flow-run.heartbeat"]},
                "resource": {"id": [f"prefect.flow-run.{flow_run_id}"]},
            },
            "limit": 10,
        },
    )
    found.raise_for_status()
    return len(found.json()["events"])


def test_a_run_that_dies_with_its_worker_is_set_crashed_and_nothing_is_promoted(
    stack, worker, tmp_path
):
    """Kill the worker, then its flow process: the run is set Crashed once its heartbeats stop."""
    with stack.client() as api:
        automations = api.post("/automations/filter", json={}).json()
    [automation] = [
        a for a in automations if a["name"] == "imbalance-flow: crash unresponsive runs"
    ]
    assert automation["trigger"]["within"] == SILENCE_SECONDS
    assert automation["enabled"]

    artifacts = tmp_path / "artifacts"
    # The default 100,000 rows: the run must not end before the kill (it is killed early).
    cfg = {"storage": {"artifacts_dir": str(artifacts)}}
    deployment_id = stack.deployment("manual-retrain")["id"]
    flow_processes: list[int] = []
    try:
        with stack.client() as api:
            # Running, and its first heartbeat has reached the server.
            flow_run_id = start_run(
                api, stack, worker, deployment_id, cfg, lambda run_id: _heartbeats(api, run_id) > 0
            )

            limit = api.get(f"/deployments/{deployment_id}").json()["global_concurrency_limit"]
            assert limit["active_slots"] == 1  # the run holds the deployment's one slot
            # ... and the work pool's one slot: while it shows Running, no run of the pool
            # (no night) can start.
            assert api.get("/work_pools/local-process").json()["active_slots"] == 1
            # The machine "dies": the worker first (so nobody reports the flow process's
            # exit), then the flow process.
            flow_processes = children(worker.pid)
            assert flow_processes, "the worker runs no flow process"
            # The deployment's heartbeat period (prefect.yaml) reached the flow process.
            environ = Path(f"/proc/{flow_processes[0]}/environ").read_bytes().split(b"\0")
            assert b"PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30" in environ
            worker.kill()
            worker.wait(10)
            for pid in flow_processes:
                os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            assert api.get(f"/flow_runs/{flow_run_id}").json()["state_type"] == "RUNNING"

            while True:
                flow_run = api.get(f"/flow_runs/{flow_run_id}").json()
                if flow_run["state_type"] != "RUNNING":
                    break
                assert time.monotonic() - killed < CRASH_SECONDS, (
                    f"still RUNNING {CRASH_SECONDS} s after its process died:\n"
                    + tail(stack.logs / "server.log")
                )
                time.sleep(1)
            assert flow_run["state_type"] == "CRASHED", flow_run["state"]
            assert f"No heartbeat for {SILENCE_SECONDS} s" in flow_run["state"]["message"]
            # Crashed frees the deployment's and the work pool's one slot for the next run ...
            limit = api.get(f"/deployments/{deployment_id}").json()["global_concurrency_limit"]
            assert limit["limit"] == 1
            assert limit["active_slots"] == 0
            assert api.get("/work_pools/local-process").json()["active_slots"] == 0
            # ... and is final: the server does not run it again (its retries are for Failed).
            again = api.get(f"/flow_runs/{flow_run_id}").json()
            assert again["state_type"] == "CRASHED"
            assert again["run_count"] == 1
        # Fail closed: nothing promoted, no run filed; what it left is a staging folder.
        assert not (artifacts / "champion.json").exists()
        assert not (artifacts / "runs").exists() or not any((artifacts / "runs").iterdir())
    finally:  # the worker fixture stops the worker if it still runs
        for pid in flow_processes:
            if not gone(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


# --- nightly runs on a folder that gains a partition every day ----------------------------

DAYS = ["2026-11-26", "2026-11-27", "2026-11-28"]
DAY_ROWS = 3000


def _scheduled_run(api: httpx.Client, deployment_id: str, cfg: dict, at: str) -> str:
    """Create a run as the schedule does: state Scheduled, at the night's time."""
    created = api.post(
        f"/deployments/{deployment_id}/create_flow_run",
        json={
            "parameters": {"cfg": cfg},
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": at}},
        },
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_nightly_runs_train_on_their_window_report_drift_skip_and_prune(
    stack, worker, tmp_path, write_day
):
    events, artifacts = tmp_path / "events", tmp_path / "artifacts"
    for day, shift in zip(DAYS, [0, 0, 2], strict=True):  # the third day drifted
        write_day(events, day, shift, DAY_ROWS)
    # An old complete run, which retention (keep 1) deletes: it was never a champion.
    old_run = artifacts / "runs" / "20261101T020000Z-old-complete"
    old_run.mkdir(parents=True)
    (old_run / "manifest.json").write_text('{"status": "completed"}')
    # Failed or killed runs left in staging: one untouched for ten days, one of today.
    staging = artifacts / ".staging"
    for name, age_days in [("20261101T020000Z-old-failed", 10), ("20261125T020000Z-fresh", 0)]:
        (staging / name).mkdir(parents=True)
        (staging / name / "manifest.json").write_text('{"status": "failed"}')
        stamp = time.time() - age_days * 86_400
        for path in (staging / name / "manifest.json", staging / name):
            os.utime(path, (stamp, stamp))
    cfg = {
        "source": {
            "path": str(events),
            "label": "churned",
            "positive": "yes",
            "time_column": "ts",
            "window_days": 2,
        },
        "training": {"epochs": 1},
        "selection": {"sweep_points": 0, "n_seeds": 1},
        "gate": {"min_positives": 100_000},  # the first run becomes champion; later ones cannot
        "storage": {"keep_runs": 1, "staging_days": 1, "artifacts_dir": str(artifacts)},
    }
    deployment_id = stack.deployment("nightly-retrain")["id"]
    runs = []
    with stack.client() as api:
        for day in (DAYS[0], DAYS[2]):  # the 27th's night is not run: it only holds data
            flow_run_id = _scheduled_run(api, deployment_id, cfg, f"{day}T02:00:00Z")
            flow_run = wait_for_end(api, flow_run_id, worker, stack.logs)
            assert flow_run["state_type"] == "COMPLETED", run_logs(api, flow_run_id, 80)
            runs.append(flow_run)
        # The last night again, from the UI's Run button (the manual deployment, as of
        # that night): nothing new to learn.
        manual_id = stack.deployment("manual-retrain")["id"]
        again_cfg = cfg | {"nightly": {"as_of": f"{DAYS[-1]}T02:00:00Z"}}
        created = api.post(
            f"/deployments/{manual_id}/create_flow_run", json={"parameters": {"cfg": again_cfg}}
        )
        assert created.status_code == 201, created.text
        runs.append(wait_for_end(api, created.json()["id"], worker, stack.logs))
        found = api.post(
            "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [runs[1]["id"]]}}}
        ).json()
        latest_report = api.get(f"/artifacts/{REPORT_KEY}/latest").json()

    first, third, again = runs
    manifests = {}
    for flow_run in (first, third):
        manifests[flow_run["name"]] = json.loads(
            (artifacts / "runs" / flow_run["name"] / "manifest.json").read_text()
        )
    one, three = manifests[first["name"]], manifests[third["name"]]
    # Each night's as-of time is its scheduled time, and it trained on its window only.
    assert one["as_of"] == "2026-11-26T02:00:00+00:00"
    assert three["as_of"] == "2026-11-28T02:00:00+00:00"
    assert one["data"]["partitions"] == ["2026-11-26"]
    assert three["data"]["partitions"] == ["2026-11-27", "2026-11-28"]
    assert three["counts"]["dataset_rows"] == 2 * DAY_ROWS
    # Drift against the champion's data (the first night's): day three's amount moved.
    assert one["drift"]["status"] == "no champion"
    drift = three["drift"]
    assert drift["status"] == "compared" and drift["against"] == first["name"]
    flagged = {f["name"] for f in drift["features"] if f["flagged"]}
    assert flagged == {"amount"}, drift["features"]
    by_key = {a["key"]: a for a in found}
    drift_rows = by_key[DRIFT_KEY]["data"]
    drift_rows = json.loads(drift_rows) if isinstance(drift_rows, str) else drift_rows
    assert [r["feature"] for r in drift_rows if r["level"] == "drifted"] == ["amount"]
    report_md = (artifacts / "runs" / third["name"] / "report.md").read_text()
    assert "## Drift against the champion's data" in report_md
    # The same night again: Completed at once, naming the run it equals, no new folder.
    assert again["state_type"] == "COMPLETED", again["state"]["message"]
    assert "nothing new" in again["state"]["message"] and third["name"] in again["state"]["message"]
    # Retention (keep 1): the old run went; the champion's and the newest stay.
    assert sorted(p.name for p in (artifacts / "runs").iterdir()) == [first["name"], third["name"]]
    assert not old_run.exists()
    assert json.loads((artifacts / "champion.json").read_text())["run_id"] == first["name"]
    assert sorted(p.name for p in staging.iterdir() if not p.name.startswith(".")) == [
        "20261125T020000Z-fresh"
    ]

    # What the UI shows of the third night: report.md with its plots inline (the UI's
    # browser cannot open the run folder), the metrics table, links, the progress.
    run_dir = artifacts / "runs" / third["name"]
    report = by_key[REPORT_KEY]["data"]
    assert report == report_with_inline_plots(RunPaths(run_dir))
    # roc, pr, loss, a confusion matrix per variant (no sweep here), the reliability
    # diagram and the champion's track record (the third night scored the champion)
    assert report.count("](data:image/png;base64,") == 8 and "](plots/" not in report
    assert "![track](data:image/png;base64," in report
    assert latest_report["data"] == report  # the skipped night published no report
    rows = by_key[METRICS_KEY]["data"]
    rows = json.loads(rows) if isinstance(rows, str) else rows
    # The variants, then the reference models (a logistic regression per variant's
    # weights and the gradient-boosted one), as in the report's table.
    references = [f"reference: logistic ({v})" for v in VARIANTS]
    assert [row["variant"] for row in rows] == [
        *VARIANTS,
        *references,
        "reference: hist_gradient_boosting",
    ]
    assert all(list(row) == TABLE_COLUMNS for row in rows)
    test_rows = three["counts"]["test_rows"]
    assert all(row["tn"] + row["fp"] + row["fn"] + row["tp"] == test_rows for row in rows)
    assert run_dir.as_uri() in by_key[RUN_DIR_KEY]["data"]
    for variant in VARIANTS:
        model_link = by_key[f"retrain-model-{variant}"]["data"]
        assert (run_dir / "models" / f"{variant}.keras").as_uri() in model_link
    assert by_key[PROGRESS_KEY]["data"] == 100
