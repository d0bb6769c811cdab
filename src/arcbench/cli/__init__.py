"""The command-line shell: parse options, call one library function, render the result.

Only this package imports typer and rich (enforced by ruff's banned-api rule).
"""
