"""bench/instructions.py's count of callgrind_control's own on/off pair: the pair it takes
off must be what every later pair counts by itself (the first pairs of a process count
more, until CPython has specialized subprocess's code)."""
import os
import shutil
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
WORKER = f"""
import sys
sys.path.insert(0, {BENCH!r})
from instructions import count_around, count_toggles
count_toggles()
for k in range(6):
    count_around(f"pair{{k}}", lambda: None)
"""


@pytest.mark.slow      # Python under valgrind: ~15 s
@pytest.mark.skipif(not (shutil.which("valgrind") and shutil.which("callgrind_control")),
                    reason="needs valgrind's callgrind")
def test_toggles_taken_off_are_what_each_later_pair_counts(tmp_path):
    sys.path.insert(0, BENCH)
    try:
        from instructions import TOGGLES, dumped_counts, run_under_callgrind
    finally:
        sys.path.remove(BENCH)
    script = tmp_path / "pairs.py"
    script.write_text(WORKER)
    out = str(tmp_path / "callgrind.out")
    run_under_callgrind(str(script), [], out, "pairs")
    counts = dumped_counts(out)
    pairs = [counts[f"pair{k}"] for k in range(6)]
    # within 1 %: a snippet of 200 calls is then off by at most ~11 instructions a call
    assert all(abs(p - counts[TOGGLES]) <= counts[TOGGLES] // 100 for p in pairs), (
        counts[TOGGLES], pairs)
