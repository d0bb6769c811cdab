"""Run settings: CLI flags, then `ARCBENCH_*` environment variables, then `.env`, then defaults.

Settings are read once, at the edge (the CLI), and passed down as a typed object; library code
never reads the environment itself. `load_settings(**flags)` applies the CLI's flags on top:
pydantic-settings gives constructor arguments precedence over the environment and `.env`, and
flags the user did not give (None) are left out so they do not mask a lower source.

API keys are not settings fields: a registry entry names the variable holding its key
(`OPENROUTER_API_KEY`, or whatever `api_key_env` says in `models.toml`), and `Settings.secret`
reads that variable from the environment or `.env` as a `SecretStr`, whose repr hides the value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from dotenv import dotenv_values
from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from arcbench import defaults
from arcbench.errors import ConfigError

ENV_PREFIX = "ARCBENCH_"
ENV_FILE = ".env"


_CONFIG = SettingsConfigDict(
    env_prefix=ENV_PREFIX,
    env_file=ENV_FILE,
    env_file_encoding="utf-8",
    extra="ignore",  # .env also holds provider keys and other tools' variables
    validate_default=True,
    allow_inf_nan=False,  # `--temperature inf` or `--timeout nan` is a typo, not a setting
)

RUNS_DIR = Path(defaults.OUT)


def _expand_home(path: Path) -> Path:
    try:
        return path.expanduser()
    except RuntimeError:  # `~name` of no such user, or no home directory known
        raise ValueError(f"cannot tell which home directory {str(path)!r} means") from None


UserPath = Annotated[Path, AfterValidator(_expand_home)]
"""A path as a user writes it: `~` is their home directory wherever the value comes from (a
shell expands it on the command line, but not in `.env` or a quoted variable)."""


class StoreSettings(BaseSettings):
    """Where the trace and variation store is, shared by every command that opens it."""

    model_config = _CONFIG

    store: UserPath | None = Field(
        None, description="The trace and variation store (unset: arcbench.store.DEFAULT_STORE)."
    )
    store_timeout: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=True,  # inf: wait as long as it takes (NaN still fails gt=0)
        description="Seconds a store change waits for another writer (busy timeout).",
    )


class Settings(StoreSettings):
    """Options shared by the model-calling commands (`traces`, `codegen`) and `models list`.

    Each field `x` is also read from `ARCBENCH_X`. `.env.example` at the repository root lists
    them all with their meaning.
    """

    model_config = _CONFIG

    models_file: UserPath | None = Field(
        None, description="models.toml to use instead of ./models.toml."
    )
    dataset: str = Field(defaults.DATASET, description="Default --dataset.")
    out: UserPath = Field(RUNS_DIR, description="Directory that holds run directories.")
    max_concurrent: int = Field(
        defaults.MAX_CONCURRENT, ge=1, le=10_000, description="Requests in flight at once."
    )
    attempts: int = Field(
        defaults.ATTEMPTS, ge=1, le=1_000, description="Attempts per test input (ARC Prize: 2)."
    )
    temperature: float | None = Field(None, ge=0, description="Sampling temperature.")
    max_tokens: int | None = Field(None, ge=1, description="Completion token limit per request.")
    timeout: float = Field(
        defaults.TIMEOUT_S,
        gt=0,
        description="Seconds one attempt may take, retries and waits included.",
    )
    request_timeout: float | None = Field(
        None, gt=0, description="Seconds one request may take before it is retried (unset: all)."
    )
    connect_timeout: float = Field(
        defaults.CONNECT_TIMEOUT_S, gt=0, description="Seconds to open a connection."
    )
    retries: int = Field(
        defaults.RETRIES, ge=0, description="Retries after a failed request (not counting it)."
    )
    rate_limit: float | None = Field(
        None, gt=0, description="Requests per minute, retries included; overrides models.toml."
    )
    max_cost: float | None = Field(
        None,
        gt=0,
        description="US dollars a run may spend in all; no request starts that could pass it.",
    )
    base_url: str | None = Field(
        None, description="Replace the model's endpoint for this run; its key is sent there."
    )
    retry_wait_initial: float = Field(
        defaults.RETRY_WAIT_INITIAL_S, ge=0, description="First exponential backoff wait, seconds."
    )
    retry_wait_max: float = Field(
        defaults.RETRY_WAIT_MAX_S, ge=0, description="Longest exponential backoff wait."
    )
    retry_wait_jitter: float = Field(
        defaults.RETRY_WAIT_JITTER_S, ge=0, description="Random extra wait, up to seconds."
    )
    rounds: int = Field(
        defaults.ROUNDS, ge=0, description="codegen: repair rounds after a program fails a pair."
    )
    exec_timeout: float = Field(
        defaults.EXEC_TIMEOUT_S,
        ge=0.1,
        le=600,
        description="codegen: wall seconds for one program on one input.",
    )
    sandbox: Literal["full", "weak"] = Field(
        defaults.SANDBOX,
        description="codegen: full isolation, or weak only where full is unavailable.",
    )
    augment: str | None = Field(
        None,
        min_length=1,
        description="Test-time augmentation: ask every task in views (d8, colors:N, "
        "d8+colors:N, transform ids), map the answers back, vote.",
    )
    views: int | None = Field(
        None, ge=1, description="With augment: views per task, the identity always included."
    )

    def secret(self, name: str) -> SecretStr | None:
        """The value of variable `name` from the environment, else `.env`; None if unset or empty.

        Read on demand rather than stored in a field, so a key only exists where a client is
        built, wrapped in `SecretStr`.
        """
        value = os.environ.get(name)
        if not value:
            env_file = Path(ENV_FILE)
            try:
                value = dotenv_values(env_file).get(name) if env_file.is_file() else None
            except UnicodeDecodeError:
                raise ConfigError(f"{ENV_FILE} is not UTF-8 text: save it as UTF-8") from None
        return SecretStr(value) if value else None


class WebSettings(StoreSettings):
    """Options of `arcbench serve-ui`, each also read from `ARCBENCH_X` (see `.env.example`).

    The store is `<data_dir>/arcbench.db` unless `store` names another file, so that the app
    and `arcbench merge` given the same `ARCBENCH_STORE` share one database. The secrets are
    `SecretStr`, so a repr or a log line never shows them.
    """

    model_config = _CONFIG

    host: str = Field("127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(8765, ge=0, le=65535, description="Port to listen on (0: any free port).")
    dataset: str = Field(defaults.DATASET, description="Dataset shown first.")
    data_dir: UserPath = Field(
        Path("data"), description="Directory of the store (arcbench.db) and the session key."
    )
    runs: UserPath = Field(RUNS_DIR, description="Directory that holds run directories.")
    token: SecretStr | None = Field(
        None, description="Access token every request must carry; required off loopback."
    )
    admin_token: SecretStr | None = Field(
        None, description="Token that makes a session an admin (may delete anyone's entries)."
    )
    session_secret: SecretStr | None = Field(
        None, description="Key that signs session cookies; else one kept in the data directory."
    )


def load_settings(**flags: Any) -> Settings:
    """Settings with the CLI's `flags` applied on top; flags that are None were not given.

    Raises `ConfigError` naming the option and its variable when a value is invalid (values are
    not echoed: `.env` may hold secrets next to the settings).
    """
    return _build(Settings, flags)


def load_web_settings(**flags: Any) -> WebSettings:
    """`WebSettings` with the CLI's `flags` applied on top, as `load_settings` does."""
    return _build(WebSettings, flags)


_Built = TypeVar("_Built", bound=BaseSettings)


def _build(cls: type[_Built], flags: dict[str, Any]) -> _Built:
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return cls(**given)
    except UnicodeDecodeError:
        raise ConfigError(f"{ENV_FILE} is not UTF-8 text: save it as UTF-8") from None
    except ValidationError as exc:
        problems = [
            f"{_option(str(error['loc'][0]))}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None


def _option(field: str) -> str:
    return f"--{field.replace('_', '-')} / {ENV_PREFIX}{field.upper()}"
