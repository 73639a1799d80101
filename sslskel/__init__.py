"""sslskel: self-supervised representation learning on human skeleton sequences."""

import os

# OpenMP threads that spin while waiting steal a shared core from the thread they wait for: with
# one other busy process a 2-thread MoCo step went from 0.3 s to 8 s, and to 0.35 s with passive
# waiting (benchmarks/bench_threads.py). OpenMP reads this once, when torch loads; a value the
# user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
