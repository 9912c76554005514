"""Time synthetic world generation (scenes and crops, rendering plus JPEG encoding).

Usage: python benchmarks/bench_world_generation.py [--sizes tiny small] [--medium] [--workers 1 2]
Writes its table into BENCHMARKS.md between the world-generation markers.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform
import sys
import time
from pathlib import Path

from personsearch.data.synth.world import SynthWorld

START, END = "<!-- world-generation:start -->", "<!-- world-generation:end -->"


def _encode(image, quality: int) -> int:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.tell()


def time_items(world: SynthWorld, kind: str, workers: int) -> tuple[int, float]:
    items = world.scenes(workers=workers) if kind == "scenes" else world.crops(workers=workers)
    start = time.perf_counter()
    count = 0
    for item in items:
        _encode(item.image, item.jpeg_quality)
        count += 1
    return count, time.perf_counter() - start


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{START}\n{section.rstrip()}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    parser.add_argument("--medium", action="store_true", help="also time the medium world")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(Path(__file__).resolve().parents[1] / "BENCHMARKS.md"))
    args = parser.parse_args()
    sizes = args.sizes + (["medium"] if args.medium else [])
    rows = []
    load_before = os.getloadavg()[0]
    for size in sizes:
        world = SynthWorld(size=size, seed=args.seed)
        for workers in args.workers:
            scenes, scene_s = time_items(world, "scenes", workers)
            crops, crop_s = time_items(world, "crops", workers)
            row = (f"| {size} | {workers} | {scenes} | {scene_s:.1f} | {1000 * scene_s / scenes:.1f} | {crops} | "
                   f"{crop_s:.1f} | {1000 * crop_s / crops:.1f} | {scene_s + crop_s:.1f} |")
            print(row, flush=True)
            rows.append(row)
    command = "python benchmarks/bench_world_generation.py " + " ".join(sys.argv[1:])
    section = "\n".join([
        "## Synthetic world generation",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}, {platform.system()}",
        f"- Command: `{command.strip()}`",
        "- Times include JPEG encoding at each camera's quality (in memory), not disk writes.",
        f"- 1-minute load average before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f} "
        "(above the core count, other work shared the CPU and the figures are pessimistic).",
        "",
        "| world | workers | scenes | scene s | ms/scene | crops | crop s | ms/crop | total s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
    ])
    write_section(Path(args.output), section)


if __name__ == "__main__":
    main()
