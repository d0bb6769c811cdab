"""The model registry: which names (`--model NAME`) exist, and the endpoint and terms of each.

Three sources, later ones winning field by field:

1. built-ins — `LOCAL_0`, `LOCAL_1`, `LOCAL_2` (OpenAI-compatible servers on 127.0.0.1 ports
   8000-8002, the served model id read from `GET /v1/models`), and `baseline`, a reserved name
   for an offline model that makes no HTTP requests (its `base_url` is None);
2. the pattern `openrouter/<vendor>/<model>` — OpenRouter, key in `OPENROUTER_API_KEY`;
3. `models.toml` in the working directory (or the file `ARCBENCH_MODELS_FILE` names), whose
   `[models.NAME]` tables add entries or override fields of a built-in or pattern entry::

       [models.LOCAL_0]
       model_id = "Qwen/Qwen3-8B"          # skip discovery

       [models.my-vllm]
       base_url = "http://gpu-box:8000/v1"
       model_id = "Qwen/Qwen3-32B"
       api_key_env = "MY_VLLM_KEY"         # the variable's name, never the key itself
       input_price = 0.10                  # USD per million prompt tokens
       output_price = 0.30                 # USD per million completion tokens
       rate_limit = 120                    # requests per minute
       extra = { top_p = 0.95 }            # merged into every request body

Every entry records its `source` ("builtin", "pattern", or the file's path), so `arcbench models
list` can say where a surprising value came from.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from arcbench.errors import AuthError, ConfigError, UnknownModelError
from arcbench.suggestions import did_you_mean
from arcbench.usage import Usage, priced_cost

MODELS_FILE = "models.toml"
BASELINE = "baseline"
OPENROUTER_PREFIX = "openrouter/"
OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
OPENROUTER_KEY_ENV = "OPENROUTER_API_KEY"
OPENROUTER_PATTERN = "openrouter/<vendor>/<model>"
LOCAL_PORTS = {"LOCAL_0": 8000, "LOCAL_1": 8001, "LOCAL_2": 8002}

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ModelEntry(BaseModel):
    """One registry entry: where to send requests for a model name, and on what terms.

    `base_url` is the API root ending in `/v1` (requests go to `{base_url}/chat/completions`);
    None only for offline entries such as `baseline`. `model_id` None means "ask the server"
    (`GET {base_url}/models`). `api_key_env` names the variable holding the key; the key itself
    is never part of an entry. `extra` is merged into every request body (for example
    `{"top_p": 0.95}` or OpenRouter's `{"provider": {...}}`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    provider: str
    base_url: str | None
    model_id: str | None = None
    api_key_env: str | None = None
    input_price: float | None = Field(None, ge=0)
    output_price: float | None = Field(None, ge=0)
    rate_limit: float | None = Field(None, gt=0)
    extra: dict[str, Any] = Field(default_factory=dict)
    source: str

    @property
    def offline(self) -> bool:
        """True for entries answered without HTTP (`baseline`)."""
        return self.base_url is None

    @property
    def priced(self) -> bool:
        """Whether registry prices are known, so a cost can be computed from token counts."""
        return self.input_price is not None or self.output_price is not None

    def cost_usd(self, usage: Usage) -> float | None:
        """The cost of `usage` at this entry's prices; None when the entry has none."""
        return priced_cost(usage, self.input_price, self.output_price)

    def with_base_url(self, base_url: str | None) -> ModelEntry:
        """This entry with its endpoint replaced for one run (`--base-url`); same key variable."""
        if base_url is None:
            return self
        return self.model_copy(update={"base_url": _normalise_url(base_url, where="--base-url")})

    def describe(self) -> dict[str, Any]:
        """The entry as plain data, as `models list --json` prints it and run.json keeps it."""
        return self.model_dump(mode="json")


class _FileEntry(BaseModel):
    """One `[models.NAME]` table of models.toml; unknown keys are refused so typos surface."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # TOML has inf and nan

    provider: str | None = None
    base_url: str | None = None
    model_id: str | None = Field(None, min_length=1)
    api_key_env: str | None = None
    input_price: float | None = Field(None, ge=0)
    output_price: float | None = Field(None, ge=0)
    rate_limit: float | None = Field(None, gt=0)
    extra: dict[str, Any] | None = None

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            # Do not echo the value: it may be a key pasted in the wrong place.
            raise ValueError("must be the name of an environment variable, like MY_API_KEY")
        return value


class _ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[str, _FileEntry] = Field(default_factory=dict)


def builtin_entries() -> list[ModelEntry]:
    """The entries that exist without any configuration."""
    local = [
        ModelEntry(
            name=name,
            provider="local",
            base_url=f"http://127.0.0.1:{port}/v1",
            source="builtin",
        )
        for name, port in LOCAL_PORTS.items()
    ]
    baseline = ModelEntry(name=BASELINE, provider="baseline", base_url=None, source="builtin")
    return [*local, baseline]


def openrouter_entry(name: str) -> ModelEntry | None:
    """The pattern entry for `openrouter/<vendor>/<model>`, or None if `name` does not match.

    OpenRouter is asked to report each request's cost (`usage: {include: true}`), so runs are
    priced from what was actually billed rather than from a price table.
    """
    if not name.startswith(OPENROUTER_PREFIX):
        return None
    model_id = name.removeprefix(OPENROUTER_PREFIX)
    vendor, _, model = model_id.partition("/")
    if not vendor or not model or any(c.isspace() for c in model_id):
        return None
    return ModelEntry(
        name=name,
        provider="openrouter",
        base_url=OPENROUTER_BASE_URL,
        model_id=model_id,
        api_key_env=OPENROUTER_KEY_ENV,
        extra={"usage": {"include": True}},
        source="pattern",
    )


class Registry:
    """The model names a user can pass to `--model`, and how to resolve them.

    Build it with `load_registry`; `resolve(name)` gives the entry a run uses, `listing()` what
    `arcbench models list` shows (the OpenRouter pattern included as one row).
    """

    def __init__(self, entries: list[ModelEntry], models_file: Path | None = None) -> None:
        self._entries = {entry.name: entry for entry in entries}
        self.models_file = models_file

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self._entries or openrouter_entry(name) is not None
        )

    def resolve(self, name: str) -> ModelEntry:
        """The entry for `name`: an explicit entry, else the OpenRouter pattern.

        Raises `UnknownModelError` naming the closest known names and how to add one.
        """
        entry = self._entries.get(name) or openrouter_entry(name)
        if entry is not None:
            return entry
        hint = did_you_mean(name, self._entries, cutoff=0.5)
        if name.startswith(OPENROUTER_PREFIX):
            hint = (
                f" OpenRouter models are named {OPENROUTER_PATTERN}, e.g. openrouter/openai/gpt-4o."
            )
        where = self.models_file or MODELS_FILE
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Known: {', '.join(self._entries)}, "
            f"{OPENROUTER_PATTERN}. Add it as [models.{toml_key(name)}] in {where} "
            "(see `arcbench models list`)."
        )

    def listing(self) -> list[ModelEntry]:
        """Every entry, with the OpenRouter pattern as a row after the explicit entries."""
        pattern = openrouter_entry("openrouter/<vendor>/<model>")
        assert pattern is not None
        return [*self._entries.values(), pattern]


def load_registry(models_file: Path | None = None) -> Registry:
    """The built-in entries overlaid with a models file.

    `models_file` (from `ARCBENCH_MODELS_FILE` or a flag) must exist when given; otherwise
    `./models.toml` is used if present. Raises `ConfigError` naming the file, entry and field
    when the file is not valid TOML or not a valid registry — never echoing values, which could
    be a key pasted into the wrong field.
    """
    path = models_file
    if path is None and Path(MODELS_FILE).exists():
        path = Path(MODELS_FILE)
    if path is not None and path.is_dir():
        raise ConfigError(f"models file {path} is a directory: point it at a TOML file")
    if path is not None and not path.is_file():
        raise ConfigError(
            f"models file {path} does not exist: create it or unset ARCBENCH_MODELS_FILE"
        )
    entries = {entry.name: entry for entry in builtin_entries()}
    if path is not None:
        for entry in _read_models_file(path, entries):
            entries[entry.name] = entry
    return Registry(list(entries.values()), models_file=path)


def _read_models_file(path: Path, builtins: dict[str, ModelEntry]) -> list[ModelEntry]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read models file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    try:
        parsed = _ModelsFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from None
    return [_merge(name, spec, path, builtins) for name, spec in parsed.models.items()]


def _merge(name: str, spec: _FileEntry, path: Path, builtins: dict[str, ModelEntry]) -> ModelEntry:
    where = f"{path} [models.{toml_key(name)}]"
    if not name or any(c.isspace() for c in name):
        raise ConfigError(f"{where}: a model name must be non-empty and contain no spaces")
    if name == BASELINE:
        raise ConfigError(f"{where}: the name {BASELINE!r} is reserved; choose another name")
    given = spec.model_dump(exclude_unset=True)
    if "base_url" in given:
        given["base_url"] = _normalise_url(given["base_url"], where=where)
    base = builtins.get(name) or openrouter_entry(name)
    if base is None:
        if "base_url" not in given:
            raise ConfigError(
                f"{where}: a new model needs base_url (the API root, e.g. http://host:8000/v1)"
            )
        fields: dict[str, Any] = {"provider": "openai-compatible", **given}
        fields["extra"] = given.get("extra") or {}
        return ModelEntry(name=name, source=str(path), **fields)
    merged = base.model_dump()
    extra = {**base.extra, **(given.pop("extra", None) or {})}
    merged.update(given, extra=extra, source=f"{path} (over {base.source})")
    return ModelEntry.model_validate(merged)


def shown_url(url: str) -> str:
    """A URL fit for messages and records: a `user:password@` part and any query string (where
    some providers put a key) removed."""
    url = re.sub(r"(?<=://)[^/@]*@", "", url)
    return url.split("?", 1)[0].split("#", 1)[0]


def _normalise_url(url: str, *, where: str) -> str:
    if not re.match(r"https?://[^/\s]+", url):
        raise ConfigError(f"{where}: base_url must start with http:// or https:// and name a host")
    return url.rstrip("/")


def toml_key(name: str) -> str:
    """`name` as a key of models.toml (quoted unless it is a bare key)."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def _describe(exc: ValidationError) -> str:
    """A validation error as `models.NAME.field: problem` lines, without the offending values."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            field = str(error["loc"][-1])
            message = "unknown field"
            if "key" in field.lower() and field != "api_key_env":
                message += ' (keys never go in models.toml: set api_key_env = "VARIABLE")'
            else:
                message += f"; allowed: {', '.join(_FileEntry.model_fields)}"
        problems.append(f"{location}: {message}")
    return "; ".join(problems)


def resolve_api_key(
    entry: ModelEntry, secret: Callable[[str], SecretStr | None]
) -> SecretStr | None:
    """The key `entry` sends, looked up with `secret(variable)` (e.g. `Settings.secret`).

    None when the entry needs no key. Raises `AuthError` naming the variable to set when it
    needs one and the variable is unset or empty.
    """
    if entry.api_key_env is None:
        return None
    key = secret(entry.api_key_env)
    if key is None:
        raise AuthError(
            f"no API key for {entry.name}: set {entry.api_key_env} in the environment or in .env"
        )
    return key
