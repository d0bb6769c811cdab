"""The `arcbench` console script and `python -m arcbench`: the CLI, with SIGINT and SIGTERM
handled from the very first line (`arcbench.interrupts`), before anything heavy is imported."""

from arcbench.interrupts import INTERRUPTS

INTERRUPTS.install()  # a signal during the imports below is kept, then handled by `main`

from arcbench.cli.main import main  # noqa: E402

if __name__ == "__main__":
    main()
