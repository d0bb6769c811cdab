# Developer shortcuts. CI runs .ci/run, which uses the README's own commands.
.PHONY: test lint bench

test:
	python -m pytest

lint:
	ruff check src tests bench
	ruff format --check src tests bench
	mypy

bench:
	python bench/bench_startup.py
	python bench/bench_load.py
	python bench/bench_replies.py
	python bench/bench_sandbox.py
	python bench/bench_runner.py
	python bench/bench_augment.py
	python bench/bench_store.py
	python bench/bench_web.py
	python bench/bench_review.py
	python bench/bench_setup.py
