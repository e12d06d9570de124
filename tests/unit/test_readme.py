"""The README stays true to the code: quickstart, parameter table, layout."""

from pathlib import Path

from imbalance.config import RetrainConfig, flat_places

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_the_quickstart_is_make_run_and_make_test():
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "make run" in quickstart and "make test" in quickstart


def test_every_config_field_is_in_the_parameter_table_with_its_option():
    table = README.split("## Parameters", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| `")]
    options = {row[1].strip(" `"): row[2].strip(" `") for row in rows}
    expected = {
        f"{section}.{name}": "--" + flat.replace("_", "-")
        for flat, (section, name) in flat_places(RetrainConfig).items()
    }
    assert options == expected


def test_every_top_level_folder_of_the_layout_exists():
    layout = README.split("## Layout", 1)[1].split("```")[1]
    root = Path(__file__).parents[2]
    for line in layout.strip().splitlines():
        assert (root / line.split()[0]).is_dir(), line
