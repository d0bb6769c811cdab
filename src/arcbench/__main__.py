"""`python -m arcbench` runs the same console entry point as `arcbench`."""

from arcbench.cli.main import main

if __name__ == "__main__":
    main()
