"""``make fuzz``: the decoder property tests (tests/protocol/test_fuzz_decoders.py) with the
Hypothesis ``fuzz`` profile, sized so that the run feeds at least ``--total`` inputs (1,000,000
by default) to the decoders; prints the planned and the actual count.

    python benchmarks/fuzz.py [--total N] [pytest args...]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests" / "protocol" / "test_fuzz_decoders.py"


class _Counts:
    """Collects the test count, then the inputs the tests counted (their ``EXAMPLES``)."""

    def __init__(self) -> None:
        self.total = 0
        self.per_test: dict[str, int] = {}

    def pytest_sessionfinish(self, session: Any) -> None:
        for module in list(sys.modules.values()):
            if getattr(module, "__file__", None) == str(TESTS):
                self.per_test = dict(module.EXAMPLES)
        self.total = sum(self.per_test.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=1_000_000, help="inputs to feed at least")
    args, pytest_args = parser.parse_known_args()
    os.environ["HYPOTHESIS_PROFILE"] = "fuzz"
    # The fuzzed property tests: those of the file that count their inputs (``_count(...)``).
    tests = TESTS.read_text().count("\n    _count(")
    per_test = os.environ.get("HYPOTHESIS_FUZZ_EXAMPLES")
    if per_test is None:
        per_test = str(max(50_000, math.ceil(args.total / tests)))
        os.environ["HYPOTHESIS_FUZZ_EXAMPLES"] = per_test
    print(f"fuzz: {tests} property tests x {per_test} examples = {tests * int(per_test):,} planned")
    counts = _Counts()
    start = time.monotonic()
    # --timeout=0: the suite's 60 s per-test limit (pytest-timeout) is for make test, not for
    # 50,000 examples of one property.
    argv = ["-q", "-p", "no:cacheprovider", "--timeout=0", str(TESTS), *pytest_args]
    code = pytest.main(argv, plugins=[counts])
    elapsed = time.monotonic() - start
    for name, count in sorted(counts.per_test.items()):
        print(f"  {name:40} {count:>10,}")
    print(f"fuzz: {counts.total:,} inputs in {elapsed:.1f} s")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
