"""Bad input through the command and the flow: refused early, one line, nothing written."""

import pytest

from cli import main
from flows.retrain import retrain
from imbalance.store import ArtifactStore


@pytest.mark.parametrize(
    "options",
    [
        ["--n-samples", "50"],
        ["--minority-fraction", "2"],
        ["--test-size", "1.5"],
        ["--epochs", "0"],
        ["--batch-size", "0"],
        ["--manual-class-weight", "0:1,1:-3"],
        ["--manual-class-weight", "0:1,5:200"],
        ["--variants", "baseline,unknown"],
        ["--epochs", "many"],
    ],
)
def test_the_command_refuses_a_bad_option_before_any_work(options, tmp_path, capsys):
    root = tmp_path / "artifacts"
    status = main(["run", *options, "--artifacts-dir", str(root)])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith("imbalance run: invalid config:")
    assert len(err.splitlines()) == 1
    field = options[0][2:].replace("-", "_")
    assert field in err
    assert not root.exists()


def test_the_flow_refuses_a_bad_parameter_before_any_work(tmp_path):
    root = tmp_path / "artifacts"
    with pytest.raises(Exception, match="epochs"):
        retrain(cfg={"epochs": 0, "artifacts_dir": str(root)})
    assert not root.exists()


@pytest.mark.slow
def test_data_without_a_training_minority_fails_in_one_line(tmp_path, capsys, caplog):
    root = tmp_path / "artifacts"
    options = ["--n-samples", "200", "--minority-fraction", "0.001", "--data-seed", "2"]
    status = main(["run", *options, "--artifacts-dir", str(root)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err[-1].startswith("imbalance run: the training split has no minority example")
    # The harness's server is configured in Prefect's settings: no server of its own.
    assert not any("temporary Prefect server" in line for line in err)
    # Prefect logs the failure, but without a traceback: the message says it all.
    failures = [r for r in caplog.records if "no minority example" in r.getMessage()]
    assert failures and not any(r.exc_info for r in failures)
    artifacts = ArtifactStore(root)
    assert artifacts.run_ids() == [] and artifacts.latest_run_id() is None
    [failed] = artifacts.unfinished_run_ids()
    assert artifacts.root.joinpath(".staging", failed, "manifest.json").is_file()
