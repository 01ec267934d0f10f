"""Run the benchmarks: every bench/bench_*.py module's `main()` in turn, or only those named.

python -m bench                 # all of them, in name order
python -m bench synth serving   # only bench_synth and bench_serving
python -m bench live            # live intelligence (issue 13): bench_live, then bench_tactic
python -m bench baselines       # the model against regression and rules per threat (issue 14)
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

# A name that runs several benchmarks: issue 13 asks `python -m bench live` for both the cost of
# live lookups and the three arms facing a new tactic.
GROUPS: dict[str, tuple[str, ...]] = {"live": ("live", "tactic")}


def available() -> list[str]:
    """Names of the benchmark modules (without the bench_ prefix), sorted."""
    return sorted(
        path.stem.removeprefix("bench_") for path in Path(__file__).parent.glob("bench_*.py")
    )


def run(names: list[str]) -> None:
    """Import each named benchmark (a group: each of its members) and call its main(); unknown
    names stop before any runs."""
    known = available()
    asked = [name.removeprefix("bench_").removesuffix(".py") for name in names]
    wanted = [member for name in asked for member in GROUPS.get(name, (name,))] or known
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(known)}"
        )
    for name in wanted:
        print(f"== bench_{name}", flush=True)
        importlib.import_module(f"bench.bench_{name}").main()


if __name__ == "__main__":
    run(sys.argv[1:])
