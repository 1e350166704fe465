"""Where the data folder is: --data-dir / FERRY_DATA_DIR, else the nearest ferry.toml up from here, else per-user."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.cli.foundation_cmd import CONFIG_TEMPLATE
from ferry.config import Settings
from ferry.errors import FerryError


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No FERRY_* variable, a private XDG data home, and a project folder with a ferry.toml."""
    for name in ("FERRY_DATA_DIR", "FERRY_CONFIG", "FERRY_WAREHOUSE_URL", "FERRY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    (project / "ferry.toml").write_text('[ferry]\ndata_dir = "ferry-data"\n')
    return project


def test_a_subfolder_uses_the_projects_data_folder(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(clean)
    at_root = Settings.from_env()
    monkeypatch.chdir(clean / "src" / "deep")
    below = Settings.from_env()
    assert at_root.data_dir == below.data_dir == clean / "ferry-data"
    assert below.data_dir_origin == f"data_dir in {clean / 'ferry.toml'}"
    assert below.effective_warehouse_url == f"duckdb://{clean / 'ferry-data' / 'warehouse.duckdb'}"


def test_an_unrelated_folder_uses_the_per_user_folder(clean: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = Settings.from_env()
    assert settings.data_dir == tmp_path / "xdg" / "ferry"
    assert settings.data_dir_origin == "per-user default"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings.from_env().data_dir == tmp_path / "home" / ".local" / "share" / "ferry"


def test_flag_and_variable_win_over_the_file(clean: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(clean / "src")
    monkeypatch.setenv("FERRY_DATA_DIR", "from-env")
    settings = Settings.from_env()
    assert settings.data_dir == clean / "src" / "from-env"  # relative to where the command runs
    assert settings.data_dir_origin == "FERRY_DATA_DIR"
    flagged = Settings.from_env(data_dir=tmp_path / "flag")
    assert flagged.data_dir == tmp_path / "flag" and flagged.data_dir_origin == "--data-dir"


def test_relative_paths_in_the_file_are_relative_to_the_file(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean / "ferry.toml").write_text('[ferry]\ndata_dir = "../shared/data"\n'
                                      'warehouse_url = "duckdb://wh/warehouse.duckdb?threads=2"\n')
    monkeypatch.chdir(clean / "src" / "deep")
    settings = Settings.from_env()
    assert settings.data_dir.resolve() == (clean.parent / "shared" / "data").resolve()
    assert settings.effective_warehouse_url == f"duckdb://{clean / 'wh' / 'warehouse.duckdb'}?threads=2"
    (clean / "ferry.toml").write_text('[ferry]\nwarehouse_url = "duckdb:///abs/w.duckdb"\n')
    assert Settings.from_env().effective_warehouse_url == "duckdb:///abs/w.duckdb"


def test_ferry_config_names_the_file_and_its_folder_anchors_paths(clean: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "etc" / "ferry.toml"
    other.parent.mkdir()
    other.write_text('[ferry]\ndata_dir = "var"\n')
    monkeypatch.setenv("FERRY_CONFIG", str(other))
    monkeypatch.chdir(clean)
    assert Settings.from_env().data_dir == other.parent / "var"


def test_init_template_urls_point_inside_the_project(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every commented URL of `ferry init`'s file, uncommented, stays in the project (never `/ferry-data`)."""
    text = "\n".join(line[2:] if line.startswith("# warehouse_url") else line
                     for line in CONFIG_TEMPLATE.splitlines())
    assert 'warehouse_url = "duckdb://' in text
    (clean / "ferry.toml").write_text(text)
    monkeypatch.chdir(clean / "src")
    settings = Settings.from_env()
    assert settings.data_dir == clean / "ferry-data"
    assert settings.effective_warehouse_url == f"duckdb://{clean / 'ferry-data' / 'warehouse.duckdb'}"


def test_unknown_setting_in_the_file_is_refused(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean / "ferry.toml").write_text('[ferry]\ndata_dir_origin = "x"\n')
    monkeypatch.chdir(clean)
    with pytest.raises(FerryError, match="unknown settings data_dir_origin"):
        Settings.from_env()


def test_a_planted_ferry_toml_is_refused_unless_its_folder_is_trusted(clean: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 27, item 6: a ferry.toml in a parent folder chooses the data folder and the warehouse.
    from ferry import config, errors

    monkeypatch.delenv(config.SAFE_DIRECTORIES_VARIABLE, raising=False)
    monkeypatch.chdir(clean / "src" / "deep")
    own = Settings.from_env().data_dir
    assert own == clean / "ferry-data"
    # Owned by another user (as if planted by them): this process runs under a uid that does not own it.
    real_uid = config.os.getuid()
    monkeypatch.setattr(config.os, "getuid", lambda: real_uid + 1)
    with pytest.raises(FerryError) as caught:
        Settings.from_env()
    assert caught.value.code == errors.CONFIG_UNTRUSTED
    assert str(clean / "ferry.toml") in caught.value.message and "FERRY_SAFE_DIRECTORIES" in caught.value.message
    # The opt-in, like git's safe.directory: the folder, or `*`.
    monkeypatch.setenv(config.SAFE_DIRECTORIES_VARIABLE, f"/elsewhere:{clean}")
    assert Settings.from_env().data_dir == own
    monkeypatch.setenv(config.SAFE_DIRECTORIES_VARIABLE, "*")
    assert Settings.from_env().data_dir == own
    # Named explicitly with FERRY_CONFIG, it is the user's own choice.
    monkeypatch.delenv(config.SAFE_DIRECTORIES_VARIABLE)
    monkeypatch.setenv("FERRY_CONFIG", str(clean / "ferry.toml"))
    assert Settings.from_env().data_dir == own
    monkeypatch.delenv("FERRY_CONFIG")
    # Our own file, but anybody may rewrite it.
    monkeypatch.setattr(config.os, "getuid", lambda: real_uid)
    (clean / "ferry.toml").chmod(0o666)
    with pytest.raises(FerryError) as writable:
        Settings.from_env()
    assert writable.value.code == errors.CONFIG_UNTRUSTED and "writable by every user" in writable.value.message
    (clean / "ferry.toml").chmod(0o664)  # group-writable (a user-private group's default) is the user's own
    assert Settings.from_env().data_dir == own
