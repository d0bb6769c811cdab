"""The model registry (built-ins, OpenRouter pattern, models.toml) and settings precedence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from arcbench.errors import AuthError, ConfigError, UnknownModelError
from arcbench.registry import (
    OPENROUTER_BASE_URL,
    load_registry,
    openrouter_entry,
    resolve_api_key,
)
from arcbench.settings import Settings, WebSettings, load_settings

REPO = Path(__file__).resolve().parents[1]
SECRET = "sk-or-v1-registry-secret-0123456789"


def write_models(text: str, path: Path = Path("models.toml")) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- built-ins and the OpenRouter pattern --------------------------------------------------------


def test_builtin_local_entries_point_at_ports_8000_to_8002_and_discover_the_model() -> None:
    registry = load_registry()
    for index, port in enumerate((8000, 8001, 8002)):
        entry = registry.resolve(f"LOCAL_{index}")
        assert entry.base_url == f"http://127.0.0.1:{port}/v1"
        assert entry.model_id is None  # read from GET /v1/models
        assert entry.api_key_env is None
        assert entry.source == "builtin"


def test_baseline_is_reserved_as_an_offline_entry() -> None:
    entry = load_registry().resolve("baseline")
    assert entry.offline
    assert entry.base_url is None


def test_openrouter_names_resolve_by_pattern_with_key_variable_and_cost_reporting() -> None:
    entry = load_registry().resolve("openrouter/deepseek/deepseek-r1:free")
    assert entry.base_url == OPENROUTER_BASE_URL
    assert entry.model_id == "deepseek/deepseek-r1:free"
    assert entry.api_key_env == "OPENROUTER_API_KEY"
    assert entry.source == "pattern"
    assert entry.extra == {"usage": {"include": True}}


@pytest.mark.parametrize(
    "name", ["openrouter/", "openrouter/vendor", "openrouter/vendor/", "openrouter//m"]
)
def test_incomplete_openrouter_names_are_refused_with_the_pattern(name: str) -> None:
    assert openrouter_entry(name) is None
    with pytest.raises(UnknownModelError, match=r"openrouter/<vendor>/<model>"):
        load_registry().resolve(name)


def test_unknown_model_suggests_close_names_and_how_to_add_one() -> None:
    with pytest.raises(UnknownModelError) as caught:
        load_registry().resolve("LOCAL0")
    message = str(caught.value)
    assert "Did you mean LOCAL_0" in message
    assert "[models.LOCAL0] in models.toml" in message


def test_listing_shows_the_pattern_as_a_row() -> None:
    names = [entry.name for entry in load_registry().listing()]
    assert names == ["LOCAL_0", "LOCAL_1", "LOCAL_2", "baseline", "openrouter/<vendor>/<model>"]


# -- models.toml ----------------------------------------------------------------------------------


def test_models_toml_overrides_fields_of_a_builtin_and_says_so() -> None:
    write_models('[models.LOCAL_0]\nmodel_id = "Qwen/Qwen3-8B"\ninput_price = 0.1\n')
    entry = load_registry().resolve("LOCAL_0")
    assert entry.model_id == "Qwen/Qwen3-8B"
    assert entry.base_url == "http://127.0.0.1:8000/v1"  # kept from the built-in
    assert entry.input_price == 0.1
    assert entry.priced
    assert entry.source == "models.toml (over builtin)"
    assert load_registry().resolve("LOCAL_1").source == "builtin"


def test_models_toml_adds_an_entry_with_every_field() -> None:
    write_models(
        """
[models.my-vllm]
base_url = "http://gpu-box:8000/v1/"
model_id = "Qwen/Qwen3-32B"
api_key_env = "MY_VLLM_KEY"
input_price = 0.10
output_price = 0.30
rate_limit = 120
extra = { top_p = 0.95, chat_template_kwargs = { enable_thinking = true } }
"""
    )
    entry = load_registry().resolve("my-vllm")
    assert entry.provider == "openai-compatible"
    assert entry.base_url == "http://gpu-box:8000/v1"  # trailing slash dropped
    assert entry.api_key_env == "MY_VLLM_KEY"
    assert (entry.input_price, entry.output_price, entry.rate_limit) == (0.10, 0.30, 120)
    assert entry.extra == {"top_p": 0.95, "chat_template_kwargs": {"enable_thinking": True}}
    assert entry.source == "models.toml"


def test_an_openrouter_override_merges_its_extra_fields_with_the_pattern() -> None:
    write_models(
        '[models."openrouter/deepseek/deepseek-r1"]\n'
        "input_price = 0.55\noutput_price = 2.19\n"
        'extra = { provider = { order = ["DeepInfra"] } }\n'
    )
    entry = load_registry().resolve("openrouter/deepseek/deepseek-r1")
    assert entry.extra == {"usage": {"include": True}, "provider": {"order": ["DeepInfra"]}}
    assert entry.api_key_env == "OPENROUTER_API_KEY"
    assert entry.source == "models.toml (over pattern)"


def test_models_file_setting_replaces_the_working_directory_file(tmp_path: Path) -> None:
    write_models('[models.here]\nbase_url = "http://a:1/v1"\n')
    other = write_models('[models.there]\nbase_url = "http://b:1/v1"\n', tmp_path / "other.toml")
    registry = load_registry(load_settings(models_file=other).models_file)
    assert "there" in registry
    assert "here" not in registry


def test_a_missing_explicit_models_file_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml does not exist"):
        load_registry(Path("nope.toml"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[models.x\n", r"models\.toml is not valid TOML"),
        ('[models.x]\nmodel = "m"\nbase_url = "http://h/v1"\n', r"models\.x\.model: unknown field"),
        ("[models.x]\nmodel_id = 'm'\n", r"a new model needs base_url"),
        ('[models.x]\nbase_url = "gpu-box:8000"\n', r"base_url must start with http"),
        ('[models.baseline]\nbase_url = "http://h/v1"\n', r"'baseline' is reserved"),
        ('[models.x]\nbase_url = "http://h/v1"\nrate_limit = 0\n', r"rate_limit: Input should be"),
    ],
)
def test_a_broken_models_file_names_the_file_entry_and_problem(text: str, expected: str) -> None:
    write_models(text)
    with pytest.raises(ConfigError, match=expected):
        load_registry()


def test_a_key_pasted_into_models_toml_is_refused_without_being_echoed() -> None:
    write_models(f'[models.x]\nbase_url = "http://h/v1"\napi_key = "{SECRET}"\n')
    with pytest.raises(ConfigError) as caught:
        load_registry()
    assert "api_key_env" in str(caught.value)
    assert SECRET not in str(caught.value)

    write_models(f'[models.x]\nbase_url = "http://h/v1"\napi_key_env = "{SECRET}"\n')
    with pytest.raises(ConfigError, match="name of an environment variable") as caught:
        load_registry()
    assert SECRET not in str(caught.value)


def test_with_base_url_replaces_the_endpoint_but_keeps_the_key_variable() -> None:
    entry = load_registry().resolve("openrouter/openai/gpt-4o")
    moved = entry.with_base_url("http://127.0.0.1:9999/v1")
    assert moved.base_url == "http://127.0.0.1:9999/v1"
    assert moved.api_key_env == "OPENROUTER_API_KEY"
    assert entry.with_base_url(None) is entry


# -- keys --------------------------------------------------------------------------------------


def test_a_missing_key_names_the_variable_to_set() -> None:
    entry = load_registry().resolve("openrouter/openai/gpt-4o")
    with pytest.raises(AuthError, match=r"set OPENROUTER_API_KEY in the environment or in \.env"):
        resolve_api_key(entry, Settings().secret)


def test_keys_come_from_the_environment_before_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = load_registry().resolve("openrouter/openai/gpt-4o")
    Path(".env").write_text(f"OPENROUTER_API_KEY={SECRET}\n")
    key = resolve_api_key(entry, Settings().secret)
    assert key is not None
    assert key.get_secret_value() == SECRET
    assert SECRET not in repr(key)
    monkeypatch.setenv("OPENROUTER_API_KEY", "from-env")
    key = resolve_api_key(entry, Settings().secret)
    assert key is not None
    assert key.get_secret_value() == "from-env"


def test_entries_without_a_key_variable_send_no_key() -> None:
    assert resolve_api_key(load_registry().resolve("LOCAL_0"), Settings().secret) is None


# -- settings ----------------------------------------------------------------------------------


def test_settings_precedence_is_flags_then_env_then_dotenv_then_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().max_concurrent == 4
    assert Settings().retries == 6
    assert Settings().timeout == 600
    Path(".env").write_text("ARCBENCH_MAX_CONCURRENT=8\nARCBENCH_RETRIES=2\nOTHER_TOOL=x\n")
    assert Settings().max_concurrent == 8
    monkeypatch.setenv("ARCBENCH_MAX_CONCURRENT", "16")
    assert Settings().max_concurrent == 16
    assert Settings().retries == 2
    settings = load_settings(max_concurrent=32, retries=None)
    assert settings.max_concurrent == 32
    assert settings.retries == 2  # a flag left unset does not mask .env


def test_an_invalid_setting_is_one_line_naming_flag_and_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARCBENCH_MAX_CONCURRENT", "0")
    with pytest.raises(ConfigError, match=r"--max-concurrent / ARCBENCH_MAX_CONCURRENT: Input"):
        load_settings()


def test_env_example_lists_every_setting_and_the_openrouter_key() -> None:
    text = (REPO / ".env.example").read_text()
    listed = set(re.findall(r"^# (ARCBENCH_[A-Z_]+)=", text, re.MULTILINE))
    fields = {*Settings.model_fields, *WebSettings.model_fields}
    expected = {f"ARCBENCH_{name.upper()}" for name in fields}
    assert listed == expected
    assert "# OPENROUTER_API_KEY=" in text
