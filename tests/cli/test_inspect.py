"""`imbalance runs`, `show` and `compare` on runs made by hand."""

import json
import subprocess
import sys

import pytest

from imbalance.config import RetrainConfig, flat_places
from imbalance.store import ArtifactStore

RUN_IDS = [
    "20260105T000000Z-killed",
    "20260104T000000Z-failed",
    "20260103T000000Z-newest",
    "20260102T000000Z-middle",
    "20260101T000000Z-oldest",
]


def test_runs_lists_every_run_newest_first_with_its_status_and_the_champion(artifacts, cli):
    status, out, err = cli("runs", "--artifacts-dir", artifacts)
    assert status == 0 and err == ""
    header, *lines = out.splitlines()
    assert header.split()[:7] == ["RUN", "STATUS", "STARTED", "(UTC)", "AS", "OF", "DURATION"]
    assert [line.split()[0] for line in lines] == RUN_IDS
    assert [line.split()[1] for line in lines] == [
        "incomplete",
        "failed",
        "completed",
        "completed",
        "completed",
    ]
    assert lines[-1].rstrip().endswith("* balanced")
    assert not any(line.rstrip().endswith("balanced") for line in lines[:-1])
    assert "0.700/0.040" in lines[-1]  # balanced: recall/PR AUC
    assert "2026-01-01 00:00:00" in lines[-1] and "5,000" in lines[-1]


def test_runs_json_has_the_same_runs_for_scripts(artifacts, cli):
    status, out, _ = cli("runs", "--json", "--artifacts-dir", artifacts)
    runs = json.loads(out)
    assert status == 0
    assert [r["run_id"] for r in runs] == RUN_IDS
    oldest = runs[-1]
    assert oldest["champion"] == "balanced" and oldest["rows"] == 5_000
    assert oldest["variants"]["manual"] == {"recall": 1.0, "pr_auc": 0.035}
    assert runs[1]["status"] == "failed" and runs[1]["error"] == "ValueError: x"
    assert runs[0]["started"] == "2026-01-05T00:00:00+00:00"  # from its id: no manifest yet


def test_runs_on_an_empty_folder_says_so(tmp_path, cli):
    assert cli("runs", "--artifacts-dir", tmp_path) == (0, f"no runs under {tmp_path}\n", "")


@pytest.mark.parametrize(
    ("ref", "run_id"),
    [
        ("latest", "20260103T000000Z-newest"),
        ("champion", "20260101T000000Z-oldest"),
        ("20260102T000000Z-middle", "20260102T000000Z-middle"),
    ],
)
def test_show_prints_the_report_config_and_files(artifacts, cli, ref, run_id):
    status, out, _ = cli("show", ref, "--artifacts-dir", artifacts)
    assert status == 0
    assert out.startswith(f"# Retrain report: {run_id}\n")
    assert f"run {run_id}: completed" in out
    assert "  generator.n_samples: 5000" in out and '  selection.metric: "pr_auc"' in out
    files = {
        line.split()[0]: line.split()[1:] for line in out[out.index("files (") :].splitlines()[1:]
    }
    report_bytes = len(f"# Retrain report: {run_id}\n\nthe table\n")
    assert files["report.md"] == [str(report_bytes), "B"]
    assert {"models/manual.keras", "metrics.json", "data/test.parquet"} <= set(files)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("20990101T000000Z-nope", "no complete run '20990101T000000Z-nope'"),
        ("20260104T000000Z-failed", "is not complete: it failed: ValueError: x"),
        ("20260105T000000Z-killed", "is not complete (still running, or killed)"),
        ("../runs", "is not a run id"),
    ],
)
def test_show_names_a_run_it_cannot_show_in_one_line(artifacts, cli, ref, message):
    status, out, err = cli("show", ref, "--artifacts-dir", artifacts)
    assert status == 2 and out == ""
    assert err.startswith("imbalance show: ") and message in err
    assert len(err.splitlines()) == 1


def test_champion_without_one_is_an_error(tmp_path, cli, fake_run):
    fake_run(tmp_path, "20260101T000000Z-only")
    status, _, err = cli("show", "champion", "--artifacts-dir", tmp_path)
    assert status == 2 and "no complete run 'champion'" in err


def test_compare_puts_metrics_side_by_side_with_their_difference(artifacts, cli):
    status, out, _ = cli(
        "compare", "20260101T000000Z-oldest", "latest", "--artifacts-dir", artifacts
    )
    assert status == 0
    rows = {" ".join(line.split()[:2]): line.split()[2:] for line in out.splitlines()[1:]}
    assert rows["manual recall"] == ["1.0000", "0.9000", "-0.1000"]
    assert rows["baseline pr_auc"] == ["0.0300", "0.0500", "+0.0200"]
    assert rows["balanced pr_auc"] == ["0.0400", "-", "-"]  # not trained in the newest run
    assert rows["config selection.variants"][-1] == "-"
    assert "counts test_rows" in out and "config training.epochs" not in out  # equal: not listed


def test_compare_lists_a_changed_config_field(artifacts, cli):
    _, out, _ = cli("compare", "20260101T000000Z-oldest", "20260102T000000Z-middle",
                    "--artifacts-dir", artifacts)  # fmt: skip
    [epochs] = [r.split() for r in out.splitlines() if r.startswith("config training.epochs")]
    assert epochs[2:] == ["2", "3", "+1"]


def test_a_run_recorded_before_sections_shows_and_compares_by_section(artifacts, cli):
    # The oldest run's config written flat, as the code before sections wrote it.
    path = ArtifactStore(artifacts).runs_dir / "20260101T000000Z-oldest" / "manifest.json"
    manifest = json.loads(path.read_text())
    places = flat_places(RetrainConfig)
    manifest["config"] = {
        flat: manifest["config"][section][name] for flat, (section, name) in places.items()
    }
    path.write_text(json.dumps(manifest))
    _, out, _ = cli("show", "20260101T000000Z-oldest", "--artifacts-dir", artifacts)
    assert "  training.epochs: 2" in out and "\n  epochs:" not in out
    _, out, _ = cli("compare", "20260101T000000Z-oldest", "20260102T000000Z-middle",
                    "--artifacts-dir", artifacts)  # fmt: skip
    # Only the field that differs: flat and sectioned records of equal values are equal.
    assert [r.split()[1] for r in out.splitlines() if r.startswith("config ")] == [
        "training.epochs"
    ]


def test_compare_refuses_an_unknown_run(artifacts, cli):
    status, _, err = cli("compare", "latest", "nope", "--artifacts-dir", artifacts)
    assert status == 2 and "no complete run 'nope'" in err and len(err.splitlines()) == 1


def test_the_inspection_commands_import_neither_tensorflow_nor_prefect(artifacts):
    code = (
        "import sys; from cli import main\n"
        f"root = {str(artifacts)!r}\n"
        "for argv in (['runs'], ['show', 'latest'], ['compare', 'latest', 'champion'],"
        " ['verify', 'all'], ['prune', '--keep', '5', '--dry-run']):\n"
        "    main([*argv, '--artifacts-dir', root])\n"
        "heavy = ('tensorflow', 'keras', 'prefect', 'matplotlib')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_run_killed_between_its_manifest_and_its_move_is_not_complete(tmp_path, cli):
    from imbalance import store
    from imbalance.store import ArtifactStore

    artifacts = ArtifactStore(tmp_path)
    run = artifacts.start_run("20260106T000000Z-cut")
    store.write_json(run.manifest, {"run_id": run.run_id, "status": "completed"})
    status, out, _ = cli("runs", "--artifacts-dir", tmp_path)
    assert status == 0 and out.splitlines()[1].split()[1] == "incomplete"
    status, _, err = cli("show", run.run_id, "--artifacts-dir", tmp_path)
    assert status == 2 and "is not complete" in err
