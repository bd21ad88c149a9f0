"""Benchmarks: each module prints its figures; `python -m bench.all` runs them all and writes BENCHMARKS.md."""
