"""The default of every setting, each written once.

`Settings` applies them (flags, then `ARCBENCH_*` variables, then `.env`, then these); the CLI's
help texts quote them. This module imports nothing heavy, so `arcbench --help` and `--version` stay
fast: building `Settings` pulls in pydantic-settings, which help does not need.
"""

from __future__ import annotations

from typing import Final

DATASET: Final = "arc-agi-2/evaluation"
OUT: Final = "runs"
MAX_CONCURRENT: Final = 4
ATTEMPTS: Final = 2
TIMEOUT_S: Final = 600.0
CONNECT_TIMEOUT_S: Final = 10.0
RETRIES: Final = 6
RETRY_WAIT_INITIAL_S: Final = 1.0
RETRY_WAIT_MAX_S: Final = 60.0
RETRY_WAIT_JITTER_S: Final = 1.0
ROUNDS: Final = 0
EXEC_TIMEOUT_S: Final = 2.0
SANDBOX: Final = "full"
TYPICAL_REPLY_TOKENS: Final = 8000
"""Completion tokens a reply is assumed to take in a run's cost estimate when --max-tokens is not
given: a reasoning reply to an ARC prompt (the estimate says it assumed this)."""
