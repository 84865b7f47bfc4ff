#!/usr/bin/env python3
"""Where a request's Python time goes, from the py-spy profiles of `api_throughput.py --profile --profile-format raw`.

For each scenario: milliseconds per request of Python (GIL-holding) time in the server workers, split into the
framework (connexion, starlette, uvicorn: what the in-memory ceiling also pays) and our request handling (from
the first tmf_oss frame down: tmf_oss itself, SQLAlchemy, psycopg2...), by package of the innermost frame, then
the functions with the most time of their own.

    python benchmarks/profile_summary.py benchmarks/results/20260101T120000Z.json [--top 12]
"""
from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

SAMPLE_MS = 10.0  # py-spy records 100 samples a second by default
_FRAME_FILE = re.compile(r"\((?P<file>[^():]+):\d+\)$")
# Frames of ours that every request runs under (the command and server runner), not request handling.
_BOOTSTRAP = ("tmf_oss/cli.py", "tmf_oss/server.py")


def _package(frame: str) -> str:
    match = _FRAME_FILE.search(frame)
    if not match:
        return "?"
    path = match.group("file")
    return path.split("/", 1)[0] if "/" in path else path.removesuffix(".py") + " (stdlib)"


def _ours(frame: str) -> bool:
    match = _FRAME_FILE.search(frame)
    path = match.group("file") if match else ""
    return path.startswith("tmf_oss/") and not path.startswith(_BOOTSTRAP)


def summarise(profile_files: list[Path]) -> tuple[Counter, Counter, Counter, int]:
    framework, ours, functions = Counter(), Counter(), Counter()
    total = 0
    for path in profile_files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames, samples = stack.split(";"), int(count)
            total += samples
            leaf = frames[-1]
            functions[leaf] += samples
            (ours if any(_ours(frame) for frame in frames) else framework)[_package(leaf)] += samples
    return framework, ours, functions, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="benchmarks/results/<run>.json of a run made with --profile")
    parser.add_argument("--top", type=int, default=12, help="functions to list per scenario")
    args = parser.parse_args()
    report = json.loads(args.report.read_text())
    profiles = Path(report.get("profiles") or args.report.with_name(args.report.stem + "-profiles"))
    for key, result in report["results"].items():
        files = sorted(profiles.glob(f"{key}-worker*.txt")) + sorted(profiles.glob(f"{key}-round*-worker*.txt"))
        if not files:
            continue
        framework, ours, functions, total = summarise(files)
        runs = result.get("runs_requests_per_s") or [result["requests_per_s"]]
        # Profiles of every round of a --repeat run are summed: divide by the requests of every round.
        requests = result["requests"] if len(runs) == 1 else sum(runs) * report["settings"]["duration_s"]
        per_request = SAMPLE_MS / max(requests, 1)
        print(f"\n{key}: {result['requests_per_s']:,.0f} req/s; server CPU {result['cpu_ms_per_request']['server']:.2f}"
              f" ms/request; profiled Python {total * per_request:.2f} ms/request")
        for title, counter in (("framework", framework), ("our request handling", ours)):
            share = sum(counter.values())
            parts = ", ".join(f"{name} {samples * per_request:.2f}" for name, samples in counter.most_common(6))
            print(f"  {title:22s} {share * per_request:5.2f} ms   ({parts})")
        print("  most time of their own:")
        for frame, samples in functions.most_common(args.top):
            print(f"    {samples * per_request:5.3f} ms  {frame}")


if __name__ == "__main__":
    main()
