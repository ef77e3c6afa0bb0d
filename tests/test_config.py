"""`lotse.yaml`, the LOTSE_* variables that override it, and `lotse init` for a city's folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import Settings
from bot.flows.checker import Sources, check
from bot.flows.problems import ContentError
from bot.flows.shipped import shipped_flows


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path | None, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ContentError) as caught:
        Settings.load(path, env or {})
    return [str(p) for p in caught.value.problems]


def test_no_file_and_no_variables_give_the_defaults() -> None:
    settings = Settings.load(None, {})
    assert settings.data_dir == Path("data")
    assert settings.web.enabled and settings.web.listen == "127.0.0.1:8080"
    assert settings.telegram is None and settings.matrix is None
    assert settings.idle.total_seconds() == 24 * 3600


def test_every_key_of_the_file_is_read_and_paths_are_relative_to_it(tmp_path: Path) -> None:
    config = write(tmp_path / "city" / "lotse.yaml", """
data_dir: var
content: [content]
idle_hours: 2
admins: ["matrix:@office:kassel.de"]
web: {listen: "127.0.0.1:9000", secure_cookie: true}
telegram: {token: "123:abc", webhook_url: "https://lotse.example/hook",
           webhook_secret: "a-long-random-secret"}
matrix:
  homeserver: https://matrix.kassel.de/
  user_id: "@lotse:kassel.de"
  allowed_servers: [kassel.de]
reminders: {first_hour: 9}
""")
    settings = Settings.load(config, {})
    assert settings.data_dir == tmp_path / "city" / "var"
    assert settings.content == (tmp_path / "city" / "content",)
    assert settings.idle_hours == 2
    assert settings.web.listen == "127.0.0.1:9000" and settings.web.secure_cookie
    assert settings.telegram is not None and settings.telegram.token == "123:abc"
    assert settings.matrix is not None
    assert settings.matrix.homeserver == "https://matrix.kassel.de"
    assert settings.matrix.allowed_servers == ("kassel.de",)
    assert settings.reminders.first_hour == 9 and settings.reminders.last_hour == 20
    assert [(k.platform, k.user) for k in settings.admins] == [("matrix", "@office:kassel.de")]


def test_a_variable_wins_over_the_file_so_secrets_can_stay_out_of_it(tmp_path: Path) -> None:
    config = write(tmp_path / "lotse.yaml", "telegram:\n  token: from-file\nidle_hours: 3\n")
    settings = Settings.load(config, {"LOTSE_TELEGRAM_TOKEN": "from-env",
                                      "LOTSE_IDLE_HOURS": "5",
                                      "LOTSE_WEB_ENABLED": "false",
                                      "LOTSE_MATRIX_HOMESERVER": "http://127.0.0.1:8008",
                                      "LOTSE_MATRIX_USER_ID": "@lotse:localhost"})
    assert settings.telegram is not None and settings.telegram.token == "from-env"
    assert settings.idle_hours == 5
    assert not settings.web.enabled
    assert settings.matrix is not None and settings.matrix.user_id == "@lotse:localhost"


def test_every_mistake_in_the_file_is_named_with_its_place(tmp_path: Path) -> None:
    config = write(tmp_path / "lotse.yaml", """idle_hour: 3
web:
  enabled: maybe
matrix:
  homeserver: https://matrix.kassel.de
telegram:
  api_url: http://localhost
""")
    found = problems_of(config)
    where = str(config)
    assert f"{where}:1:1: unknown key 'idle_hour' — did you mean 'idle_hours'?" in found
    assert f"{where}:3:12: 'enabled' must be true or false — got 'maybe'" in found
    assert any(p.startswith(f"{where}:5:15: 'matrix' needs 'user_id'") for p in found)
    assert any(p.startswith(f"{where}:7:12: 'telegram' is not used: 'token' is not set")
               for p in found)
    assert len(found) == 4


def test_a_broken_variable_is_named_by_its_name() -> None:
    assert problems_of(None, {"LOTSE_IDLE_HOURS": "a day"}) == [
        "LOTSE_IDLE_HOURS: 'idle_hours' must be a number — got 'a day'"]


def test_yaml_syntax_errors_in_the_settings_point_at_the_place(tmp_path: Path) -> None:
    config = write(tmp_path / "lotse.yaml", "web:\n  listen: [127.0.0.1\n")
    found = problems_of(config)
    assert len(found) == 1 and found[0].startswith(f"{config}:2:")


def test_the_command_line_refuses_bad_settings_without_a_traceback(tmp_path: Path) -> None:
    config = write(tmp_path / "lotse.yaml", "data_dri: x\n")
    result = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "chat"],
                            capture_output=True, text=True, timeout=60, input="")
    assert result.returncode == 2
    assert f"{config}:1:1: unknown key 'data_dri' — did you mean 'data_dir'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_lotse_yaml_in_the_working_folder_is_found_without_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "lotse.yaml", "data_dir: elsewhere\n")
    result = subprocess.run([sys.executable, "-m", "bot", "chat"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, input="nein\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "elsewhere" / "state.db").exists()
    assert not (tmp_path / "data").exists()


# --- lotse init ------------------------------------------------------------------------------


def test_init_makes_a_folder_that_passes_the_check_and_runs(tmp_path: Path) -> None:
    city = tmp_path / "kassel"
    made = CliRunner().invoke(main, ["init", str(city), "--city", "Stadt Kassel"])
    assert made.exit_code == 0, made.output
    for name in ("lotse.yaml", "README.md", "content/contacts-local.yaml",
                 "content/de/local.yaml", "content/en/local.yaml"):
        assert (city / name).is_file(), name
    checked = CliRunner().invoke(main, ["--config", str(city / "lotse.yaml"), "check"])
    assert checked.exit_code == 0, checked.output
    settings = Settings.load(city / "lotse.yaml", {})
    assert settings.content == (city / "content",)
    assert settings.data_dir == city / "data"


def test_init_never_overwrites_what_a_city_wrote(tmp_path: Path) -> None:
    city = tmp_path / "kassel"
    assert CliRunner().invoke(main, ["init", str(city)]).exit_code == 0
    mine = write(city / "content" / "de" / "local.yaml", "employee: {}\n")
    again = CliRunner().invoke(main, ["init", str(city)])
    assert again.exit_code == 2
    assert "exist already" in again.output
    assert mine.read_text(encoding="utf-8") == "employee: {}\n"


def test_a_citys_texts_and_contacts_take_the_place_of_the_shipped_ones(tmp_path: Path) -> None:
    city = tmp_path / "city"
    assert CliRunner().invoke(main, ["init", str(city), "--city", "Musterstadt"]).exit_code == 0
    write(city / "content" / "de" / "local.yaml",
          "system:\n  reask: Das verstehe ich in Musterstadt nicht.\n")
    config = str(city / "lotse.yaml")
    result = CliRunner().invoke(main, ["--config", config, "chat", "--data-dir",
                                       str(tmp_path / "data")], input="nein\nQuatsch\n")
    assert result.exit_code == 0, result.output
    assert "Das verstehe ich in Musterstadt nicht." in result.output
    bundle = check(Sources.from_paths((shipped_flows(),), (city / "content",))).bundle
    assert bundle is not None
    names = [c.name["de"] for c in bundle.contacts.values()]
    assert "Antidiskriminierungsstelle – Musterstadt" in names
    assert not any("Stadt Kassel" in name for name in names)


def test_a_mistake_in_a_citys_layer_is_reported_with_the_shipped_content(tmp_path: Path) -> None:
    city = tmp_path / "city"
    assert CliRunner().invoke(main, ["init", str(city)]).exit_code == 0
    write(city / "content" / "en" / "local.yaml", "system:\n  not_understood:\n")
    result = CliRunner().invoke(main, ["--config", str(city / "lotse.yaml"), "check"])
    assert result.exit_code == 2
    assert "local.yaml:2:18: text 'system.not_understood' is empty" in result.output
