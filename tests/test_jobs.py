"""The job layer in-process: whole jobs driven through `run_job` with a scripted model and the
real sandbox, the engine's contract (failures as records, fatal errors, resume), and run
directories written by earlier versions of arcbench."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from arcbench.client import Completion
from arcbench.datasets import load_dataset
from arcbench.errors import AuthError, ModelUnavailableError, ResultsFileError
from arcbench.jobs import JOB_KINDS, JobRequest, JobResult, find_kind, plan_run, run_job
from arcbench.manifest import CodegenCounts, TracesCounts
from arcbench.records import CodegenRecord, TracesRecord
from arcbench.registry import load_registry
from arcbench.report import build_report, read_run
from arcbench.runfiles import iter_records
from arcbench.sandbox import Sandbox
from arcbench.selection import Selection
from arcbench.settings import Settings
from arcbench.usage import Usage
from conftest import cli_env, run_cli
from fakeserver import FakeServer, reply
from taskdata import TASK_A, TASK_B, write_json

MAIN_RUNS = Path(__file__).parent / "data" / "main-runs"
"""Run directories written by arcbench 0.1.0 before records and manifests were typed."""

FLIP = {
    "train": [
        {"input": [[1, 0], [2, 0]], "output": [[0, 1], [0, 2]]},
        {"input": [[3, 3, 0]], "output": [[0, 3, 3]]},
    ],
    "test": [{"input": [[4, 0, 5]], "output": [[5, 0, 4]]}],
}
GOOD = "Mirror each row.\n```python\ndef transform(grid):\n    return [r[::-1] for r in grid]\n```"
WRONG = "Identity?\n```python\ndef transform(grid):\n    return grid\n```"

Reply = Callable[[list[dict[str, Any]]], str | Exception]


class ScriptedModel:
    """A `ChatModel` answering from a function of the conversation; it records every call."""

    def __init__(self, answer: Reply, name: str = "scripted") -> None:
        self.answer = answer
        self.name = name
        self.calls: list[list[dict[str, Any]]] = []

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "provider": "test", "model_id": self.name, "source": "test"}

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        conversation = [dict(m) for m in messages]
        self.calls.append(conversation)
        await asyncio.sleep(0)
        answer = self.answer(conversation)
        if isinstance(answer, Exception):
            raise answer
        return Completion(
            text=answer,
            reasoning="",
            content=answer,
            usage=Usage(10, 5, 0),
            cost_usd=0.001,
            priced=True,
            latency_s=0.01,
            attempts=1,
            model=self.name,
            finish_reason="stop",
        )


def _request(
    tmp_path: Path, command: str, tasks: dict[str, Any], model: str = "LOCAL_0", **settings: Any
) -> JobRequest:
    dataset = load_dataset(str(write_json(tmp_path / "tasks.json", tasks)))
    return JobRequest(
        command=command,
        model=load_registry().resolve(model),
        settings=Settings(out=tmp_path / "runs", **settings),
        dataset=dataset,
        tasks=Selection().apply(dataset.tasks),
        run_name="r",
    )


def _records(result: JobResult) -> list[TracesRecord | CodegenRecord]:
    return list(iter_records(result.path / "results.jsonl"))


async def _codegen(request: JobRequest, model: ScriptedModel) -> JobResult:
    async with Sandbox("full", timeout_s=2.0) as sandbox:
        return await run_job(request, model=model, sandbox=sandbox)


def test_a_codegen_job_runs_in_process_with_a_scripted_model_and_the_real_sandbox(
    tmp_path: Path,
) -> None:
    def answer(conversation: list[dict[str, Any]]) -> str:
        return GOOD if len(conversation) > 1 else WRONG  # right after one repair round

    model = ScriptedModel(answer)
    request = _request(tmp_path, "codegen", {"flip": FLIP}, attempts=1, rounds=2)
    result = asyncio.run(_codegen(request, model))

    assert result.status == "completed"
    first, repaired = _records(result)
    assert isinstance(first, CodegenRecord)
    assert isinstance(repaired, CodegenRecord)
    assert (first.round, repaired.round) == (0, 1)
    assert [r.status for r in first.train_results or []] == ["wrong", "wrong"]
    assert repaired.fits_train
    assert repaired.predictions == [[[5, 0, 4]]]
    assert repaired.correct == [True]
    # The repair round showed the model its program's failures.
    assert [m["role"] for m in model.calls[1]] == ["user", "assistant", "user"]
    assert "Your program produced:\n[[1,0],\n [2,0]]" in model.calls[1][2]["content"]
    manifest = result.manifest
    assert isinstance(manifest.counts, CodegenCounts)
    assert manifest.counts.programs == 2
    assert manifest.score is not None
    assert manifest.score.score == 1.0
    assert manifest.sandbox is not None
    assert manifest.sandbox.isolation == "full"
    assert manifest.cost_usd == pytest.approx(0.002)
    on_disk = orjson.loads((result.path / "run.json").read_bytes())
    assert on_disk["score"]["score"] == 1.0
    assert on_disk["model"]["name"] == "scripted"


def test_the_baseline_job_runs_in_process_without_a_model(tmp_path: Path) -> None:
    request = _request(tmp_path, "codegen", {"flip": FLIP}, model="baseline")
    assert request.kind.name == "baseline"
    result = asyncio.run(_codegen_offline(request))
    assert result.status == "completed"
    records = _records(result)
    solved = [r for r in records if isinstance(r, CodegenRecord) and r.correct == [True]]
    assert "flip_h" in {r.rule for r in solved}
    assert result.manifest.score is not None
    assert result.manifest.score.score == 1.0
    assert result.manifest.model.name == "baseline"
    assert result.manifest.prompt_version == "none"


async def _codegen_offline(request: JobRequest) -> JobResult:
    async with Sandbox("full", timeout_s=2.0) as sandbox:
        return await run_job(request, sandbox=sandbox)


def test_failures_are_records_and_a_resume_asks_only_for_them(tmp_path: Path) -> None:
    def flaky(conversation: list[dict[str, Any]]) -> str | Exception:
        if "[[6]]" in conversation[-1]["content"].split("Test input:")[1]:
            return ModelUnavailableError("the server is down")
        return "```json\n[[0, 3], [0, 0]]\n```"

    request = _request(tmp_path, "traces", {"aaa": TASK_A, "bbb": TASK_B})
    first = asyncio.run(run_job(request, model=ScriptedModel(flaky)))
    assert first.status == "completed"
    failed = [r for r in _records(first) if r.error is not None]
    assert len(failed) == 2  # both attempts at bbb's first test input
    assert all(r.error == "the server is down" for r in failed)
    assert isinstance(first.manifest.counts, TracesCounts)
    assert first.manifest.counts.errors == 2

    healed = ScriptedModel(lambda conversation: "```json\n[[6, 6]]\n```")
    again = asyncio.run(run_job(request, model=healed))
    assert len(healed.calls) == 2
    assert again.manifest.counts is not None
    assert again.manifest.counts.errors == 0
    assert again.manifest.score is not None
    assert again.manifest.score.score == pytest.approx((1 + 0.5) / 2)


def test_a_fatal_error_stops_the_run_and_is_recorded(tmp_path: Path) -> None:
    refused = ScriptedModel(lambda conversation: AuthError("MY_KEY is set but was refused"))
    request = _request(tmp_path, "traces", {"aaa": TASK_A, "bbb": TASK_B}, max_concurrent=1)
    with pytest.raises(AuthError):
        asyncio.run(run_job(request, model=refused))
    manifest = orjson.loads((tmp_path / "runs" / "r" / "run.json").read_bytes())
    assert manifest["status"] == "failed"
    assert "MY_KEY is set but was refused" in manifest["error"]
    assert len(refused.calls) == 1


def test_every_kind_is_registered_once_and_found_by_command_and_model() -> None:
    assert len({kind.name for kind in JOB_KINDS}) == len(JOB_KINDS)
    assert find_kind("traces", model="LOCAL_0", offline=False).name == "traces"
    assert find_kind("codegen", model="LOCAL_0", offline=False).name == "codegen"
    assert find_kind("codegen", model="baseline", offline=True).name == "baseline"
    with pytest.raises(Exception, match="arcbench codegen --model baseline"):
        find_kind("traces", model="baseline", offline=True)


def test_augment_wraps_whichever_kind_the_command_runs() -> None:
    augment = Settings(augment="d8", views=3)
    for command, model, offline in (
        ("traces", "LOCAL_0", False),
        ("codegen", "LOCAL_0", False),
        ("codegen", "baseline", True),
    ):
        base = find_kind(command, model=model, offline=offline)
        wrapped = find_kind(command, model=model, offline=offline, settings=augment)
        assert wrapped.name == f"{base.name}+augment"
        assert (wrapped.command, wrapped.offline) == (base.command, base.offline)
        assert wrapped.needs_sandbox == base.needs_sandbox
    assert find_kind("traces", model="LOCAL_0", offline=False, settings=Settings()).name == "traces"


def test_the_plan_counts_requests_and_multiplies_them_by_the_views(tmp_path: Path) -> None:
    tasks = {"aaa": TASK_A, "bbb": TASK_B}  # three test inputs
    plain = plan_run(_request(tmp_path, "traces", tasks))
    assert (plain.tasks, plain.test_inputs, plain.requests, plain.views) == (2, 3, 6, 1)
    viewed = plan_run(_request(tmp_path, "traces", tasks, augment="d8+colors:1", views=5))
    assert (viewed.requests, viewed.most_requests, viewed.views) == (30, 30, 5)
    repaired = plan_run(_request(tmp_path, "codegen", tasks, attempts=3, rounds=2, augment="d8"))
    assert (repaired.requests, repaired.most_requests, repaired.views) == (48, 144, 8)
    offline = plan_run(_request(tmp_path, "codegen", tasks, model="baseline", augment="d8"))
    assert offline.offline
    assert (offline.requests, offline.views) == (0, 8)


def test_a_job_needs_its_collaborators(tmp_path: Path) -> None:
    request = _request(tmp_path, "codegen", {"flip": FLIP})
    with pytest.raises(ValueError, match="needs a model client"):
        asyncio.run(run_job(request))
    with pytest.raises(ValueError, match="needs a sandbox"):
        asyncio.run(run_job(request, model=ScriptedModel(lambda c: GOOD)))


# -- run directories written before records were typed ------------------------------------------


@pytest.fixture
def main_runs(tmp_path: Path) -> Path:
    """A copy of the run directories written by arcbench 0.1.0, and their dataset."""
    runs = tmp_path / "runs"
    shutil.copytree(MAIN_RUNS, runs)
    return runs


@pytest.mark.parametrize("name", ["traces-main", "codegen-main", "baseline-main"])
def test_runs_of_earlier_versions_read_and_score_as_they_did(main_runs: Path, name: str) -> None:
    written = orjson.loads((main_runs / name / "run.json").read_bytes())
    run = read_run(main_runs / name)
    assert run.manifest is not None
    assert run.manifest.run_id == written["run_id"]
    report = build_report([run])
    assert report.score.score == written["score"]["score"]
    assert report.score.per_output == written["score"]["per_output"]
    # Runs written before usage was validated read as wholly usable.
    assert report.totals()["usage"] == {**written["usage"], "unusable": []}
    cli = run_cli("report", str(main_runs / name), "--json")
    assert cli.returncode == 0, cli.stderr
    assert orjson.loads(cli.stdout)["score"] == written["score"]["score"]


def test_an_earlier_traces_run_resumes_retrying_only_its_failure(
    main_runs: Path, fake_server: FakeServer
) -> None:
    fake_server.enqueue(reply("```json\n[[6, 6]]\n```"))
    args = ["-d", str(main_runs / "small.json"), "--out", str(main_runs), "--run-name"]
    result = run_cli(
        "traces", "--model", "LOCAL_0", "--base-url", fake_server.url, *args, "traces-main"
    )
    assert result.returncode == 0, result.stderr
    assert len(fake_server.chat_requests) == 1
    manifest = orjson.loads((main_runs / "traces-main" / "run.json").read_bytes())
    assert manifest["status"] == "completed"
    assert manifest["counts"]["errors"] == 0
    assert manifest["counts"]["attempts_done"] == 6


def test_an_earlier_codegen_run_resumes_its_failed_round_with_the_conversation(
    main_runs: Path, fake_server: FakeServer
) -> None:
    fake_server.enqueue(reply(GOOD))
    result = run_cli(
        "codegen",
        "--model",
        "LOCAL_0",
        "--base-url",
        fake_server.url,
        "-d",
        str(main_runs / "small.json"),
        "--task-ids",
        "aaa",
        "--rounds",
        "1",
        "--out",
        str(main_runs),
        "--run-name",
        "codegen-main",
        env=cli_env(),
    )
    assert result.returncode == 0, result.stderr
    (request,) = fake_server.chat_requests
    roles = [m["role"] for m in request.body["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert "no usable program" in request.body["messages"][2]["content"]
    manifest = orjson.loads((main_runs / "codegen-main" / "run.json").read_bytes())
    assert manifest["counts"]["errors"] == 0
    assert manifest["sandbox"]["sessions"] == ["full", "full"]


# -- what is read back is validated --------------------------------------------------------------


def test_a_damaged_record_is_refused_with_its_line_and_field(main_runs: Path) -> None:
    results = main_runs / "traces-main" / "results.jsonl"
    lines = results.read_bytes().splitlines(keepends=True)
    record = orjson.loads(lines[2])
    record["correct"] = "yes"
    lines[2] = orjson.dumps(record) + b"\n"
    results.write_bytes(b"".join(lines))
    with pytest.raises(ResultsFileError, match=r"results.jsonl, line 3: not a valid record"):
        read_run(main_runs / "traces-main")
    cli = run_cli("report", str(main_runs / "traces-main"))
    assert cli.returncode == 2
    assert "line 3" in cli.stderr
    assert "correct" in cli.stderr
    assert "Traceback" not in cli.stderr


def test_a_damaged_manifest_is_refused_naming_the_file_and_field(main_runs: Path) -> None:
    path = main_runs / "codegen-main" / "run.json"
    manifest = orjson.loads(path.read_bytes())
    manifest["status"] = "finished-ish"
    path.write_bytes(orjson.dumps(manifest))
    cli = run_cli("report", str(main_runs / "codegen-main"))
    assert cli.returncode == 2
    assert "run.json is not a run manifest (status:" in cli.stderr
