"""Top frames of a py-spy raw (collapsed) profile: `python -m bench.flame FILE [N] [--under NAME]`.

Self time is the leaf frame of each sample; inclusive time counts a frame once per sample wherever
it is on the stack. Line numbers are dropped so one function is one row. `--under NAME` keeps only
the samples whose stack contains a frame starting with NAME (e.g. `--under GatewayActor`).
"""

from __future__ import annotations

import collections
import re
import sys

_LINE = re.compile(r":\d+\)")


def top_frames(path: str, count: int = 25, under: str | None = None) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            stack, _, samples = line.rstrip().rpartition(" ")
            if not stack:
                continue
            frames = [_LINE.sub(")", f) for f in stack.split(";")[1:]]
            if under and not any(f.startswith(under) for f in frames):
                continue
            weight = int(samples)
            total += weight
            if frames:
                own[frames[-1]] += weight
            for frame in set(frames):
                inclusive[frame] += weight
    lines = [f"{total} samples" + (f" under {under}" if under else "")]
    for title, table in (("self", own), ("inclusive", inclusive)):
        lines.append(f"-- {title}")
        lines += [f"{100 * n / max(total, 1):5.1f}%  {frame}" for frame, n in table.most_common(count)]
    return "\n".join(lines)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--under")]
    under = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--under=")), None)
    print(top_frames(args[0], int(args[1]) if len(args) > 1 else 25, under))
