"""The embedded default: a synthetic PRW-format world, a model trained on such a world,
the PRW protocol, and one search written as an HTML report. No dataset, no network.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision.ops import box_iou

from personsearch.data.catalog import load_dataset
from personsearch.data.records import SceneSearchData
from personsearch.data.world_cache import ensure_synthetic_dataset
from personsearch.utils.atomic import atomic_write_json

GALLERY_SIZE = 40


@dataclass(frozen=True)
class DemoOutcome:
    metrics: dict
    report: str
    contact_sheet: str
    seconds: float
    image_query: dict  # {"pid", "correct": [bool per hit]}
    text_query: dict | None = None  # {"description", "pid", "correct", "report"} when a text model was given


def pick_query(data: SceneSearchData) -> int:
    """The query whose person appears in the most other-camera gallery frames (a telling search)."""
    best, best_count = 0, -1
    for position, query in enumerate(data.queries):
        count = sum(
            1 for r in data.gallery
            if r.name != query.name and r.camera != query.camera and (np.asarray(r.pids) == query.pid).any()
        )
        if count > best_count:
            best, best_count = position, count
    return best


def search_gallery(data: SceneSearchData, query_position: int, folder: Path) -> Path:
    """A folder of links to test frames: every frame of the query person, then others, GALLERY_SIZE in all."""
    query = data.queries[query_position]
    frames = [r for r in data.gallery if r.name != query.name]
    holds_person = [bool((np.asarray(r.pids) == query.pid).any()) for r in frames]
    holding = [r for r, holds in zip(frames, holds_person) if holds]
    others = [r for r, holds in zip(frames, holds_person) if not holds]
    chosen = (holding + others)[: max(GALLERY_SIZE, len(holding))]
    folder.mkdir(parents=True, exist_ok=True)
    for record in chosen:
        link = folder / record.name
        if not link.exists():
            link.symlink_to(Path(record.image_path).resolve())
    return folder


def describe_person(*, size: str, seed: int, pid: int, camera: int) -> str:
    """A description of PRW person `pid` of the world (size, seed), seen from the front by a camera
    numbered as in PRW frame names, written by the world's own caption writer."""
    from personsearch.data.synth.captions import describe
    from personsearch.data.synth.visibility import visible_attributes
    from personsearch.data.synth.world import SynthWorld

    world = SynthWorld(size=size, seed=seed)
    attributes = world.identity_attributes(pid - 1)  # PRW ids are world ids + 1
    style = world.cameras[camera - 1].style
    return describe(visible_attributes(attributes, "front"), "front", style, np.random.default_rng(pid))[0]


def _first_rank(correct: list[bool]) -> str:
    return str(correct.index(True) + 1) if any(correct) else "none"


def _hits_person(hit, person_boxes: np.ndarray | None) -> bool:
    """The hit is the query person: its box overlaps that person's box in the image with IoU >= 0.5."""
    if person_boxes is None or len(person_boxes) == 0:
        return False
    iou = box_iou(torch.tensor([hit.box], dtype=torch.float32), torch.as_tensor(person_boxes, dtype=torch.float32))
    return bool((iou >= 0.5).any())


def run_demo(
    *, workdir: Path, checkpoint: Path, size: str = "demo", seed: int = 1, device: str = "cpu",
    workers: int = 2, top_k: int = 10, batch_size: int = 2, text_checkpoint: Path | None = None,
) -> DemoOutcome:
    """`text_checkpoint`: also search the same gallery for a written description of the query person."""
    from personsearch.api import PersonSearcher
    from personsearch.index import checkpoint_identity
    from personsearch.methods.supervised import EvalSettings, evaluate_model
    from personsearch.models.search_model import load_search_model
    from personsearch.viz import write_contact_sheet, write_html_report

    start = time.perf_counter()
    root = ensure_synthetic_dataset("prw", workdir / f"prw-{size}-seed{seed}", size=size, seed=seed, workers=workers)
    data = load_dataset("prw", root)
    print(f"world: {len(data.train)} training frames, {len(data.gallery)} test frames, {len(data.queries)} queries")

    torch_device = torch.device(device)
    model = load_search_model(str(checkpoint), device=str(torch_device))
    print(f"model: {checkpoint}")
    metrics, _ = evaluate_model(model, data, "prw", torch_device, EvalSettings(batch_size=batch_size))
    atomic_write_json(workdir / "metrics.json", metrics)
    print("PRW protocol:", json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in metrics.items()}))

    position = pick_query(data)
    query = data.queries[position]
    gallery = search_gallery(data, position, workdir / "search_gallery")
    searcher = PersonSearcher(model=model, device=torch_device, model_id=checkpoint_identity(checkpoint))
    searcher.index(gallery)
    box = tuple(float(v) for v in query.box)
    hits = searcher.search(query.image_path, box, top_k=top_k)
    out = workdir / "search_report"
    report = write_html_report(out, query_image=query.image_path, query_box=box, hits=hits)
    sheet = write_contact_sheet(out / "contact_sheet.png", query_image=query.image_path, query_box=box, hits=hits)
    truth = {r.name: np.asarray(r.boxes)[np.asarray(r.pids) == query.pid] for r in data.gallery}
    correct = [_hits_person(hit, truth.get(Path(hit.image).name)) for hit in hits]
    atomic_write_json(out / "results.json", {"query": query.name, "box": box, "pid": int(query.pid),
                                             "hits": [asdict(h) | {"correct": c} for h, c in zip(hits, correct)]})
    print(f"search for person {query.pid} of {query.name}: top-{top_k} hits")
    for hit, is_correct in zip(hits, correct):
        mark = "the query person" if is_correct else "someone else"
        print(f"  {hit.rank:2d}. {Path(hit.image).name}  score {hit.score:.3f}  ({mark})")
    text_query = None
    if text_checkpoint is not None:
        from personsearch.text.searcher import TextSearcher

        description = describe_person(size=size, seed=seed, pid=int(query.pid), camera=int(query.camera))
        text_searcher = TextSearcher(checkpoint=text_checkpoint, device=device, detector=checkpoint, progress=False)
        text_searcher.index(gallery)
        text_hits = text_searcher.search(description, top_k=top_k)
        text_correct = [_hits_person(hit, truth.get(Path(hit.image).name)) for hit in text_hits]
        text_report = text_searcher.write_report(description, text_hits, workdir / "text_search_report")
        text_query = {"description": description, "pid": int(query.pid), "correct": text_correct,
                      "report": str(text_report)}
        print(f"text search for person {query.pid}: \"{description}\"")
        for hit, is_correct in zip(text_hits, text_correct):
            mark = "the described person" if is_correct else "someone else"
            print(f"  {hit.rank:2d}. {Path(hit.image).name}  score {hit.score:.3f}  ({mark})")
    print(f"person {query.pid} in the top {top_k}: image query {sum(correct)} hits (first at rank {_first_rank(correct)})"
          + (f"; text query {sum(text_query['correct'])} hits (first at rank {_first_rank(text_query['correct'])})"
             if text_query else ""))
    return DemoOutcome(metrics=metrics, report=str(report), contact_sheet=str(sheet),
                       seconds=time.perf_counter() - start, image_query={"pid": int(query.pid), "correct": correct},
                       text_query=text_query)
