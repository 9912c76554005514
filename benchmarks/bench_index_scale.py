"""Gallery index at scale: build time, query latency, recall@10 against exact search, memory.

    python benchmarks/bench_index_scale.py                       # 10k, 100k, 1M boxes -> BENCHMARKS.md
    python benchmarks/bench_index_scale.py --boxes 1000000 --queries 200 --no-write   # one JSON line

Features are synthetic but shaped like re-ID embeddings of a real archive, not uniform noise:
identities of about 10 boxes each (different frames and cameras of one person). Each
identity's centre is drawn from a 64-dimensional "appearance" subspace (clothing colours,
build, carried objects are few factors) plus a smaller full-rank part; each box adds a
camera offset (8 cameras shared by everybody: lighting and viewpoint) and per-box noise
(pose, occlusion, detector jitter) of about the same size as the spread between identities,
then is L2-normalised. A query is a new view of an indexed identity, so its true neighbours
are that identity's boxes, surrounded by look-alikes.

Each size runs in a fresh process (its peak memory is its own) through
`personsearch.index.GalleryIndex` with the factory it chooses by size: search time is per
query, one query at a time, on `--threads` faiss threads; recall@10 is the fraction of the
exact top 10 (IndexFlatIP over the same vectors) that the index returns. Save and load time
the atomic write with checksum and the checked read. Finished rows are kept in
benchmarks/results/index_scale/ and reused unless --force.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SECTION = "index-scale"
RESULTS = Path(__file__).resolve().parent / "results" / "index_scale"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DIM = 256
VIEWS_PER_IDENTITY = 10
APPEARANCE_FACTORS = 64
CAMERAS = 8


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def synthetic_features(boxes: int, queries: int, *, dim: int = DIM, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(gallery (boxes, dim), queries (queries, dim)) float32, unit length; see the module doc."""
    rng = np.random.default_rng(seed)
    identities = max(1, boxes // VIEWS_PER_IDENTITY)
    mixing = rng.normal(size=(APPEARANCE_FACTORS, dim)).astype(np.float32)
    centres = unit(rng.normal(size=(identities, APPEARANCE_FACTORS)).astype(np.float32) @ mixing / np.sqrt(APPEARANCE_FACTORS)
                   + 0.5 * rng.normal(size=(identities, dim)).astype(np.float32))
    camera_offsets = 0.35 * unit(rng.normal(size=(CAMERAS, dim)).astype(np.float32))

    def views(owner: np.ndarray) -> np.ndarray:
        out = np.empty((len(owner), dim), np.float32)
        for start in range(0, len(owner), 100_000):  # in blocks, to bound the temporary arrays
            part = owner[start:start + 100_000]
            noise = rng.normal(size=(len(part), dim)).astype(np.float32) * np.float32(0.9 / np.sqrt(dim))
            out[start:start + len(part)] = unit(centres[part] + camera_offsets[rng.integers(0, CAMERAS, len(part))]
                                                + noise)
        return out

    gallery = views(rng.permutation(np.arange(boxes) % identities))
    return gallery, views(rng.integers(0, identities, queries))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def index_memory_mib(index) -> float:
    """What a loaded index holds: its arrays plus the faiss index (its serialised size: codes or
    vectors, ids, list centres); the picture records are not counted."""
    arrays = (index.features, index.boxes, index.scores, index.ids, index.image_index)
    return (sum(a.nbytes for a in arrays) + len(index.vectors.to_bytes())) / 2**20


def measure(boxes: int, queries: int, *, threads: int, seed: int = 0) -> dict:
    import faiss

    from personsearch.index import GalleryIndex, IndexedImage

    faiss.omp_set_num_threads(threads)
    load_before = os.getloadavg()[0]
    gallery, query = synthetic_features(boxes, queries, seed=seed)
    per_picture = 10  # boxes are grouped into pictures, as a detector's output would be
    pictures = -(-boxes // per_picture)
    index = GalleryIndex(
        root="/archive", model_id="synthetic", score_threshold=0.5, frame_stride=1,
        features=gallery.astype(np.float16), boxes=np.tile(np.array([[0, 0, 40, 100]], np.float32), (boxes, 1)),
        scores=np.ones(boxes, np.float32), image_index=np.arange(boxes, dtype=np.int64) // per_picture,
        images=[IndexedImage(name=f"{i:07d}.jpg", size=1, mtime_ns=1, width=1920, height=1080) for i in range(pictures)],
    )
    start = time.perf_counter()
    vectors = index.vectors  # faiss index: IVF training + adding, or exact
    build_s = time.perf_counter() - start

    index.nearest(query[:1], 10)  # warm-up
    start = time.perf_counter()
    found = np.stack([index.ids[index.nearest(q[None], 10)[1][0]] for q in query])
    ms_per_query = 1000 * (time.perf_counter() - start) / queries

    exact = faiss.IndexFlatIP(DIM)
    exact.add(index.features.astype(np.float32))
    start = time.perf_counter()
    truth = np.stack([exact.search(q[None], 10)[1][0] for q in query])
    exact_ms_per_query = 1000 * (time.perf_counter() - start) / queries
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
    factory, nprobe, features_mib = vectors.factory, vectors.nprobe, index.features.nbytes / 2**20
    peak_mib = peak_rss_mib()

    with tempfile.TemporaryDirectory(dir=RESULTS.parent) as folder:
        path = Path(folder) / "index.npz"
        start = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - start
        file_mib = path.stat().st_size / 2**20
        start = time.perf_counter()
        loaded = GalleryIndex.load(path, model_id="synthetic")
        load_s = time.perf_counter() - start
        index_mib = index_memory_mib(loaded)
    return {
        "boxes": boxes, "queries": queries, "dim": DIM, "threads": threads, "factory": factory,
        "nprobe": nprobe, "build_s": round(build_s, 2), "ms_per_query": round(ms_per_query, 3),
        "exact_ms_per_query": round(exact_ms_per_query, 3), "recall_at_10": round(recall, 4),
        "save_s": round(save_s, 2), "load_s": round(load_s, 2), "file_mib": round(file_mib, 1),
        "features_mib": round(features_mib, 1), "index_mib": round(index_mib, 1), "peak_rss_mib": round(peak_mib, 1),
        "load_average": round(max(load_before, os.getloadavg()[0]), 1),
    }


def run_in_fresh_process(boxes: int, queries: int, threads: int) -> dict:
    command = [sys.executable, __file__, "--boxes", str(boxes), "--queries", str(queries), "--threads", str(threads),
               "--no-write"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def write_section(rows: list[dict]) -> None:
    import report as bench_report

    table = bench_report.markdown_table(
        ["boxes", "faiss factory", "nprobe", "build s", "ms / query", "exact ms / query", "recall@10",
         "save s", "load s", "file MiB", "index in memory MiB", "benchmark peak RSS MiB", "machine load"],
        [[f"{r['boxes']:,}", f"`{r['factory']}`", r["nprobe"] or "-", r["build_s"], r["ms_per_query"],
          r["exact_ms_per_query"], f"{r['recall_at_10']:.3f}", r["save_s"], r["load_s"], r["file_mib"],
          r["index_mib"], r["peak_rss_mib"], r["load_average"]] for r in rows],
    )
    body = (
        "## Gallery index at scale\n\n" + bench_report.section_preamble()
        + f"- features: {DIM}-d synthetic re-ID-like embeddings: identities of {VIEWS_PER_IDENTITY} boxes, centres "
        f"in a {APPEARANCE_FACTORS}-factor appearance subspace, {CAMERAS} shared camera offsets, per-box noise "
        "(`benchmarks/bench_index_scale.py` says how); queries are new views of indexed identities\n"
        f"- search: one query at a time, top 10, {rows[0]['threads']} faiss thread(s); recall@10 against exact "
        "inner-product search (IndexFlatIP) over the same vectors; features stored as float16, searched as float32\n"
        "- memory: \"index in memory\" is what a loaded index holds (float16 features, boxes, scores, ids and "
        "the faiss index: 8-bit codes for IVF, a float32 copy of the features for exact search); "
        "the benchmark's peak also holds the generated float32 features and the exact reference index\n"
        "- machine load: the 1-minute load average while the row ran (other jobs share the 2 cores; times are "
        "upper bounds when it is above 2)\n\n" + table
    )
    bench_report.update_section(SECTION, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="faiss threads (default 1: the latency of one core)")
    parser.add_argument("--no-write", action="store_true",
                        help="measure in this process and print one JSON line per size; write nothing")
    parser.add_argument("--force", action="store_true", help="re-measure sizes with a kept result")
    args = parser.parse_args()
    if args.no_write:
        for boxes in args.boxes:
            print(json.dumps(measure(boxes, args.queries, threads=args.threads)), flush=True)
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for boxes in args.boxes:
        kept = RESULTS / f"{boxes}_boxes_{args.threads}_threads.json"
        if kept.is_file() and not args.force:
            row = json.loads(kept.read_text())
        else:
            row = run_in_fresh_process(boxes, args.queries, args.threads)
            kept.write_text(json.dumps(row, indent=2) + "\n")
        print(json.dumps(row), flush=True)
        rows.append(row)
    write_section(rows)


if __name__ == "__main__":
    main()
