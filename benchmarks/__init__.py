"""Benchmarks: what users feel (speed, memory) and what the models achieve, measured in one run.

``python -m benchmarks.run`` (``make bench``) runs them all and writes BENCHMARKS.md.
"""
