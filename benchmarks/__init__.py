"""Benchmarks: each prints its figures as ratios against a baseline measured in the same
run, since absolute times drift on shared machines. `python -m benchmarks` runs them all."""
