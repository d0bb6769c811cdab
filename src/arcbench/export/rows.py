"""A row of training data as `arcbench export` writes it: one conversation (system, user,
assistant) and a metadata object that says where it came from and how it was verified.

Two layouts, one JSON object per line:

- `chat` (default): `{"messages": [{"role", "content"}, …], "metadata": {…}}`, what the OpenAI
  fine-tuning API and Hugging Face TRL's `SFTTrainer` read;
- `sharegpt`: `{"conversations": [{"from", "value"}, …], "metadata": {…}}` (`system`, `human`,
  `gpt`), what axolotl, LLaMA-Factory and other ShareGPT readers take.

`data/export-row.schema.json` is generated from `ChatRow`; `data/nature_of_data.md` documents
every metadata field.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from arcbench.records import ChatMessage

RowFormat = Literal["chat", "sharegpt"]
FORMATS: tuple[RowFormat, ...] = ("chat", "sharegpt")

Verifier = Literal["answer", "sandbox", "author"]
"""What verified a row: its grid matched the known `answer`; its program solved every pair in
the `sandbox`; a person (the `author`) wrote it."""


class RowMetadata(BaseModel):
    """Where a row came from and what vouches for it (see `data/nature_of_data.md`)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["run", "store"]
    origin: str
    kind: Literal["traces", "codegen"]
    task_id: str
    version: int | None = None
    test_index: int | None = None
    run_id: str | None = None
    record_id: str | None = None
    view: list[str] | None = None
    trace_id: str | None = None
    model: str | None = None
    author: str | None = None
    score: int | None = None
    verified: bool
    verified_by: Verifier | None = None
    augmented: list[str] | None = None
    prompt_version: str | None = None

    @property
    def label(self) -> str:
        """The task as users type it: `ID`, or `ID@VERSION`."""
        return self.task_id if self.version is None else f"{self.task_id}@{self.version}"


class ChatRow(BaseModel):
    """A row in the `chat` layout."""

    messages: list[ChatMessage]
    metadata: RowMetadata


class ShareGptTurn(BaseModel):
    """One turn of a `sharegpt` row (`from` is a Python keyword, hence the alias)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: Literal["system", "human", "gpt"] = Field(alias="from")
    value: str


class ShareGptRow(BaseModel):
    """A row in the `sharegpt` layout."""

    conversations: list[ShareGptTurn]
    metadata: RowMetadata


ROW_MODELS: dict[RowFormat, type[ChatRow] | type[ShareGptRow]] = {
    "chat": ChatRow,
    "sharegpt": ShareGptRow,
}
"""What a line of each layout validates as (tests and readers of exported files)."""

_SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}


class TrainingRow(BaseModel):
    """One example before it is written: the system message (None: none), the prompt, the
    answer, and the metadata."""

    model_config = ConfigDict(frozen=True)

    system: str | None
    user: str
    assistant: str
    metadata: RowMetadata

    def to_json(self, layout: RowFormat) -> bytes:
        """The row's line (without its newline) in `layout`."""
        turns = [("user", self.user), ("assistant", self.assistant)]
        if self.system is not None:
            turns.insert(0, ("system", self.system))
        metadata = self.metadata.model_dump(mode="json")
        if layout == "chat":
            messages = [{"role": role, "content": content} for role, content in turns]
            return orjson.dumps({"messages": messages, "metadata": metadata})
        conversations = [
            {"from": _SHAREGPT_ROLES[role], "value": content} for role, content in turns
        ]
        return orjson.dumps({"conversations": conversations, "metadata": metadata})

    def duplicate_key(self) -> bytes:
        """What makes two rows the same example: the task, the prompt and the answer text."""
        return answer_key(prompt_key(self.metadata.label, self.user), self.assistant)


def prompt_key(label: str, prompt: str) -> hashlib.blake2b:
    """The hash of a task and prompt, to be completed by `answer_key` (a prompt shared by many
    rows, as a transformed task's is by its programs' copies, is hashed once)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (label, prompt):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest


def answer_key(prompt: hashlib.blake2b, answer: str) -> bytes:
    """`TrainingRow.duplicate_key` of a row with this prompt (`prompt_key`) and `answer`."""
    digest = prompt.copy()
    digest.update(answer.encode())
    digest.update(b"\0")
    return digest.digest()
