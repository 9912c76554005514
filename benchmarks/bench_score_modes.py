"""One trained one-step model scored under each inference mode on a PRW-format world:
the detection score (norm-aware score after a second 0.5 filter, or SeqNet's stage-1
classification score) crossed with plain or confidence-weighted similarity, with and
without CBGM. Each score source's results are kept in a JSON file, so reruns reuse them.

    python benchmarks/bench_score_modes.py --checkpoint src/personsearch/assets/demo_seqnet.pth \
        --root personsearch_demo/prw-demo-seed1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import report as bench_report

from personsearch.data.catalog import load_dataset
from personsearch.engine.inference import run_search_inference
from personsearch.evaluation import CBGM_PRESETS, evaluate_search_results
from personsearch.methods.supervised import results_from_arrays
from personsearch.models.search_model import load_search_model
from personsearch.utils.atomic import atomic_write_json

SECTION = "score-modes-prw"
RESULTS_DIR = Path(__file__).resolve().parent / "results" / "score_modes"
SOURCES = {"nae": "norm-aware score, second 0.5 filter", "fcs": "stage-1 classification score (SeqNet)"}


def measure(checkpoint: Path, root: Path, source: str) -> dict:
    data = load_dataset("prw", root)
    model = load_search_model(str(checkpoint), "cpu", inference_overrides={"score_source": source})
    results = results_from_arrays(run_search_inference(model, data, torch.device("cpu"), 2))
    rows = {}
    for weighted in (False, True):
        for cbgm in (False, True):
            report = evaluate_search_results(results, data, weight_by_score=weighted,
                                             cbgm=CBGM_PRESETS["prw"] if cbgm else None)
            rows[f"weighted={weighted},cbgm={cbgm}"] = report
    return {"checkpoint": str(checkpoint), "root": str(root), "source": source,
            "detections": int(len(results.gallery.scores)), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True, help="a PRW-format root")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = []
    for source, label in SOURCES.items():
        path = RESULTS_DIR / f"{source}.json"
        done = json.loads(path.read_text()) if path.is_file() else None
        if done is None or done["checkpoint"] != str(args.checkpoint) or done["root"] != str(args.root):
            done = measure(args.checkpoint, args.root, source)
            atomic_write_json(path, done)
        for key, r in done["rows"].items():
            weighted, cbgm = (part.split("=")[1] == "True" for part in key.split(","))
            table.append([label, "weighted" if weighted else "plain", "yes" if cbgm else "no",
                          r["mAP"], r["top1"], r["det_ap"], r["det_recall"]])
    body = bench_report.section_preamble() + f"- checkpoint: `{args.checkpoint}`, world: `{args.root}`\n\n"
    body += bench_report.markdown_table(
        ["detection score", "similarity", "CBGM", "mAP", "top-1", "det AP", "det recall"], table)
    print(body)
    if not args.no_write:
        bench_report.update_section(SECTION, body)


if __name__ == "__main__":
    main()
