"""`arcbench models list` through the real console entry point."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from conftest import cli_env, run_cli
from terminal import run_in_terminal, screen_lines

SECRET = "sk-or-v1-cli-secret-5f1e2d3c4b5a"


def test_models_list_shows_builtins_and_the_openrouter_pattern() -> None:
    result = run_cli("models", "list", env=cli_env(COLUMNS="200"))
    assert result.returncode == 0, result.stderr
    for text in (
        "LOCAL_0",
        "http://127.0.0.1:8000/v1",
        "http://127.0.0.1:8002/v1",
        "(from /v1/models)",
        "openrouter/<vendor>/<model>",
        "OPENROUTER_API_KEY",
        "pattern",
        "builtin",
    ):
        assert text in result.stdout, text


def test_models_list_json_reports_models_toml_entries_and_their_source() -> None:
    Path("models.toml").write_text(
        '[models.LOCAL_1]\nmodel_id = "qwen3"\n\n'
        '[models.box]\nbase_url = "http://box:9000/v1"\napi_key_env = "BOX_KEY"\n'
        "input_price = 0.2\noutput_price = 0.6\nrate_limit = 30\n"
    )
    result = run_cli("models", "list", "--json", env=cli_env(BOX_KEY=SECRET))
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in orjson.loads(result.stdout)}
    assert rows["LOCAL_1"]["model_id"] == "qwen3"
    assert rows["LOCAL_1"]["source"] == "models.toml (over builtin)"
    assert rows["box"] == {
        "name": "box",
        "provider": "openai-compatible",
        "base_url": "http://box:9000/v1",
        "model_id": None,
        "api_key_env": "BOX_KEY",
        "input_price": 0.2,
        "output_price": 0.6,
        "rate_limit": 30.0,
        "extra": {},
        "source": "models.toml",
    }
    assert SECRET not in result.stdout + result.stderr


def test_models_list_never_prints_key_values() -> None:
    result = run_cli("models", "list", env=cli_env(OPENROUTER_API_KEY=SECRET, COLUMNS="200"))
    assert result.returncode == 0, result.stderr
    assert "OPENROUTER_API_KEY" in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_models_file_from_the_environment(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('[models.remote]\nbase_url = "https://example.org/v1"\n')
    result = run_cli("models", "list", "--json", env=cli_env(ARCBENCH_MODELS_FILE=str(other)))
    assert result.returncode == 0, result.stderr
    row = next(r for r in orjson.loads(result.stdout) if r["name"] == "remote")
    assert row["source"] == str(other)


def test_a_broken_models_file_is_one_line_naming_the_file() -> None:
    Path("models.toml").write_text('[models.x]\nbase_url = "http://h/v1"\nmodle_id = "m"\n')
    result = run_cli("models", "list")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "arcbench: error: models.toml: models.x.modle_id: unknown field"
    )
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_models_file_says_what_to_do() -> None:
    result = run_cli("models", "list", env=cli_env(ARCBENCH_MODELS_FILE="missing.toml"))
    assert result.returncode == 2
    assert "missing.toml does not exist: create it or unset ARCBENCH_MODELS_FILE" in result.stderr


@pytest.mark.parametrize("columns", [60, 80, 120, 200])
@pytest.mark.parametrize("terminal", [False, True])
def test_models_list_never_cuts_a_name_or_a_url(columns: int, terminal: bool) -> None:
    Path("models.toml").write_text(
        '[models."qwen3-coder-480b-a35b-instruct-on-the-gpu-box"]\n'
        'base_url = "http://gpu-box.lab.example.org:8000/v1"\n'
        'model_id = "Qwen/Qwen3-Coder-480B-A35B-Instruct"\nrate_limit = 120\n'
    )
    if terminal:
        status, output = run_in_terminal("models", "list", columns=columns, env=cli_env())
        assert status == 0, output
        lines = screen_lines(output)
    else:
        result = run_cli("models", "list", env=cli_env(COLUMNS=str(columns)))
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
    text = "\n".join(lines)
    for whole in (
        "qwen3-coder-480b-a35b-instruct-on-the-gpu-box",
        "http://gpu-box.lab.example.org:8000/v1",
        "Qwen/Qwen3-Coder-480B-A35B-Instruct",
        "http://127.0.0.1:8000/v1",
        "http://127.0.0.1:8001/v1",
        "http://127.0.0.1:8002/v1",
        "https://openrouter.ai/api/v1",
        "openrouter/<vendor>/<model>",
        "OPENROUTER_API_KEY",
        "(from /v1/models)",
    ):
        assert whole in text, (columns, whole, text)
    assert "…" not in text
    assert all(len(line) <= columns for line in lines if "│" in line or "━" in line)
    if columns >= 200:
        assert "┃ name" in text  # a table where it fits
