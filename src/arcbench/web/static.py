"""Where the front end's files are: inside the installed package, or in the checkout.

A wheel carries `web/` as `arcbench/web_static` (pyproject's `force-include`); an editable
install runs from the checkout, where it is `web/` beside `src/`.
"""

from __future__ import annotations

from pathlib import Path

import arcbench
from arcbench.errors import ConfigError

INSTALLED = Path(arcbench.__file__).resolve().parent / "web_static"
CHECKOUT = Path(__file__).resolve().parents[3] / "web"


def static_dir() -> Path:
    """The directory holding `index.html` and the modules it loads."""
    for candidate in (INSTALLED, CHECKOUT):
        if (candidate / "index.html").is_file():
            return candidate
    raise ConfigError(
        f"the web app's files are missing (looked in {INSTALLED} and {CHECKOUT}): "
        "reinstall arcbench"
    )
