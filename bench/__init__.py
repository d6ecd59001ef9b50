"""thalweg's benchmarks: each workload against named peers, interleaved, in one run.

``python -m bench`` (or ``make bench``) runs them all and writes ``docs/benchmarks.md``;
``bench/harness.py`` is the shared machinery, one module per workload beside it.
"""
