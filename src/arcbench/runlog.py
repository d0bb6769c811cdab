"""`run.log`, the detailed log of a run: one line per event, appended across resumes.

Library code logs to the `arcbench` logger; while a job runs, this handler copies those lines
into the run directory. Nothing logged carries an API key: the client scrubs its messages and
records never hold one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOGGER = logging.getLogger("arcbench")

_ROUTED = ("arcbench", "stamina")
"""Loggers whose records belong in run.log rather than on the terminal: the retry library's
warnings would otherwise reach stderr through logging's last-resort handler and tear the
progress bar."""


@contextmanager
def run_log(path: Path) -> Iterator[logging.Logger]:
    """Append the `arcbench` logger's records to `path` while inside."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    saved = []
    for name in _ROUTED:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield LOGGER
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        handler.close()
