"""Benchmarks with their recorded results (bench/RESULTS.md). Run with `python -m bench`."""
