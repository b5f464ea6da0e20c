"""erfa's benches, run as scripts: `python bench/run.py` (performance, issue 5), bench/engine.py,
bench/fairness.py, bench/postgres.py and bench/eval.py. A package so the scripts and the tests
(tests/quality/test_bench.py) import the bench's modules the same way, as bench.<module>."""
