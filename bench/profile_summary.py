"""Summarize a py-spy collapsed-stack profile (``py-spy record --format raw``): where the operator's CPU goes.

Usage::

    .venv/bin/python -m bench.profile_summary PROFILE.txt [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from typing import Any

_LINE = re.compile(r":\d+\)$")


def _function(frame: str) -> str:
    """``name (path/file.py:12)`` -> ``name (path/file.py)``: aggregate a function over its lines."""
    return _LINE.sub(")", frame.strip())


def summarize(path: Path, top: int = 25) -> dict[str, Any]:
    """Sample counts: total, and the top functions by self and by inclusive samples (with their share)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";") if f.strip()]
        # The first frame is the thread ("process 1:"/"thread (0x...)"): not a function.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"function": f, "samples": n, "percent": round(100.0 * n / max(total, 1), 1)}
                for f, n in counter.most_common(top)]

    return {"samples": total, "self": share(own), "inclusive": share(inclusive)}


def main() -> None:
    """Print the summary of one profile."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    result = summarize(args.profile, args.top)
    print(f"{result['samples']} samples")
    for title in ("self", "inclusive"):
        print(f"\n-- by {title} samples --")
        for row in result[title]:
            print(f"{row['percent']:5.1f}%  {row['samples']:6d}  {row['function']}")


if __name__ == "__main__":
    main()
