"""Summarise a py-spy `--format raw` (folded stacks) profile: top self and inclusive costs.

`python -m bench.profile_summary bench/results/<run>/profile-dm.folded.txt [--top 25]`
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path


def _short(frame: str) -> str:
    frame = frame.replace("/site-packages/", "|").replace("/src/", "|")
    if "|" in frame:
        head, _, tail = frame.partition(" (")
        frame = f"{head} ({tail.split('|')[-1]}"
    return frame


def summarise(path: Path, top: int = 25) -> str:
    self_c: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";")]
        total += n
        self_c[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    out = [f"{total} samples", "", "self:"]
    out += [f"{100 * c / total:5.1f}%  {f}" for f, c in self_c.most_common(top)]
    out += ["", "inclusive:"]
    out += [f"{100 * c / total:5.1f}%  {f}" for f, c in incl.most_common(top * 2)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarise(args.path, args.top))


if __name__ == "__main__":
    main()
