"""Where the compiled training loop is cached between runs, and how to move or stop it."""

from importlib.metadata import version

from imbalance import tf as tf_setup

RELEASE = f"tensorflow-{version('tensorflow')}"


def test_the_cache_lives_under_the_user_cache_folder_per_tensorflow_release(monkeypatch, tmp_path):
    monkeypatch.delenv(tf_setup.XLA_CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert tf_setup.xla_cache_dir() == tmp_path / "imbalance-flow" / "xla" / RELEASE


def test_the_cache_can_be_moved_or_turned_off(monkeypatch, tmp_path):
    monkeypatch.setenv(tf_setup.XLA_CACHE_ENV, str(tmp_path / "elsewhere"))
    assert tf_setup.xla_cache_dir() == tmp_path / "elsewhere" / RELEASE
    monkeypatch.setenv(tf_setup.XLA_CACHE_ENV, "")
    assert tf_setup.xla_cache_dir() is None


def test_the_flag_is_added_to_tensorflows_own_and_never_replaces_a_chosen_one(
    monkeypatch, tmp_path
):
    monkeypatch.setenv(tf_setup.XLA_CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
    tf_setup._use_xla_cache()
    expected = f"--tf_xla_auto_jit=0 --tf_xla_persistent_cache_directory={tmp_path / RELEASE}"
    assert tf_setup.os.environ["TF_XLA_FLAGS"] == expected
    assert (tmp_path / RELEASE).is_dir()

    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_persistent_cache_directory=/mine")
    tf_setup._use_xla_cache()
    assert tf_setup.os.environ["TF_XLA_FLAGS"] == "--tf_xla_persistent_cache_directory=/mine"


def test_no_flag_when_the_cache_is_off(monkeypatch):
    monkeypatch.setenv(tf_setup.XLA_CACHE_ENV, "")
    monkeypatch.delenv("TF_XLA_FLAGS", raising=False)
    tf_setup._use_xla_cache()
    assert "TF_XLA_FLAGS" not in tf_setup.os.environ
