"""Benchmarks with the targets of the construct/provider issue: `python -m benchmarks` prints the figures."""
