"""Throughput benchmarks: ``python -m bench`` (see bench/NOTES.md)."""
