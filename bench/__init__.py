"""Benchmarks: speed targets live here, never in tests. Numbers are ratios of one run."""
