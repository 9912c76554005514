"""What the web app searches with: the gallery's searchers behind one small interface.

This is the only serve module that knows the search facade (`personsearch.api`): the app
asks it for hits, gallery pictures and facts about the gallery, by picture name only.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from personsearch import media
from personsearch.detectors import OWN_DETECTOR, SSDLITE
from personsearch.export import ONNX, PYTORCH

INDEX_SUFFIXES = (".npz",)
PICTURE_CACHE_SIZE = 128  # encoded pictures kept in memory (video frames are slow to seek)


class UnknownPictureError(KeyError):
    pass


class TextSearchUnavailableError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServedHit:
    rank: int
    score: float
    detection_score: float
    box: tuple[float, float, float, float]
    picture: str  # name relative to the gallery root ("cam1/0001.jpg", "street.avi#frame000120")
    frame: int | None
    time_s: float | None


@dataclass(frozen=True)
class GalleryFacts:
    name: str
    pictures: int
    people: int
    videos: int
    text_search: bool
    runtime: str
    detector: str


class SearchService:
    """Image search (a `PersonSearcher` with its gallery indexed) and, optionally, text search
    (a `TextSearcher` over the same gallery folder). Calls are serialised: one model, one query at a time."""

    def __init__(self, *, person_searcher, text_searcher=None, runtime: str = PYTORCH,
                 detector: str = OWN_DETECTOR) -> None:
        if person_searcher.gallery_index is None:
            raise ValueError("the person searcher has no gallery: index one or load an index first")
        self.person_searcher = person_searcher
        self.text_searcher = text_searcher
        self.runtime = runtime
        self.detector = detector
        index = person_searcher.gallery_index
        self.root = Path(index.root)
        self.picture_names = [image.name for image in index.images]
        known = set(self.picture_names)
        if text_searcher is not None and text_searcher.gallery is not None:
            if Path(text_searcher.gallery.root).resolve() != self.root.resolve():
                raise ValueError(
                    f"the text index covers {text_searcher.gallery.root}, the image index {self.root}: "
                    "both must index the same gallery"
                )
            self.picture_names += [image.name for image in text_searcher.gallery.images if image.name not in known]
        self._known = set(self.picture_names)
        self._lock = threading.Lock()  # one query at a time through the model
        self._cache_lock = threading.Lock()
        self._encoded: OrderedDict[str, bytes] = OrderedDict()

    @classmethod
    def open(
        cls,
        gallery: str | Path,
        *,
        checkpoint: str | Path | None = None,
        detector: str | None = None,
        reid: str | None = None,
        text_checkpoint: str | Path | None = None,
        runtime: str = PYTORCH,
        onnx_dir: str | Path | None = None,
        device: str = "cpu",
        frame_stride: int = 1,
        score_threshold: float = 0.5,
        progress: bool = True,
    ) -> "SearchService":
        """Index `gallery` (a folder of images or a video; a saved index is reused while its pictures
        are unchanged), or load a saved index file (.npz). No `checkpoint`: the pipeline shipped for
        real pictures (`PersonSearcher.create`)."""
        from personsearch.api import PersonSearcher
        from personsearch.commands.search import resolve_search_model

        if runtime == ONNX and onnx_dir is None:
            from personsearch.export.onnx_runtime import default_export_folder

            onnx_dir = default_export_folder()
        checkpoint, detector, reid = resolve_search_model(checkpoint, detector=detector, reid=reid,
                                                          pytorch=runtime == PYTORCH)
        searcher = PersonSearcher.create(
            checkpoint, detector=detector, reid=reid, device=device, runtime=runtime, onnx_dir=onnx_dir,
            score_threshold=score_threshold, progress=progress,
        )
        gallery = Path(gallery)
        if gallery.is_file() and gallery.suffix in INDEX_SUFFIXES:
            index = searcher.load_index(gallery)
        else:
            index = searcher.index(gallery, frame_stride=frame_stride)
        text_searcher = None
        if text_checkpoint is not None:
            root = Path(index.root)
            if any(media.is_video_file(root / image.name.split(media.FRAME_SEPARATOR)[0]) for image in index.images):
                raise ValueError("text search covers folders of images, not videos: drop --text-checkpoint")
            text_searcher = _text_searcher(text_checkpoint, checkpoint=checkpoint, detector=detector, runtime=runtime,
                                           onnx_dir=onnx_dir, device=device, progress=progress)
            text_searcher.index(root)
        return cls(person_searcher=searcher, text_searcher=text_searcher, runtime=runtime, detector=detector)

    def facts(self) -> GalleryFacts:
        index = self.person_searcher.gallery_index
        videos = {name.split(media.FRAME_SEPARATOR)[0] for name in self.picture_names if media.FRAME_SEPARATOR in name}
        return GalleryFacts(
            name=self.root.name,
            pictures=len(self.picture_names),
            people=index.num_detections,
            videos=len(videos),
            text_search=self.text_searcher is not None,
            runtime=self.runtime,
            detector=self.detector,
        )

    def picture(self, name: str) -> Image.Image:
        """A gallery picture by its name; UnknownPictureError for any name the gallery does not hold."""
        if name not in self._known:
            raise UnknownPictureError(name)
        return media.open_images([str(self.root / name)])[str(self.root / name)]

    def picture_jpeg(self, name: str) -> bytes:
        with self._cache_lock:
            if name in self._encoded:
                self._encoded.move_to_end(name)
                return self._encoded[name]
        return self._remember(name, self.picture(name))

    def _remember(self, name: str, image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        with self._cache_lock:
            self._encoded[name] = buffer.getvalue()
            while len(self._encoded) > PICTURE_CACHE_SIZE:
                self._encoded.popitem(last=False)
        return buffer.getvalue()

    def _prepare_frames(self, names: list[str]) -> None:
        """Decode the video frames among `names` in one pass per video and cache them, so that the
        page's requests for the hits' pictures do not each decode their video from the start."""
        with self._cache_lock:
            wanted = [n for n in dict.fromkeys(names) if media.FRAME_SEPARATOR in n and n not in self._encoded]
        if wanted:
            images = media.open_images([str(self.root / name) for name in wanted])
            for name in wanted:
                self._remember(name, images[str(self.root / name)])

    def search_image(self, image: Image.Image, box, top_k: int) -> list[ServedHit]:
        with self._lock:
            hits = self.person_searcher.search(image, box, top_k=top_k)
            index = self.person_searcher.gallery_index
            entries = [index.record(hit.entry_id) for hit in hits]
        self._prepare_frames([entry.picture for entry in entries])
        return [
            ServedHit(rank=hit.rank, score=hit.score, detection_score=hit.detection_score, box=hit.box,
                      picture=entry.picture, frame=entry.frame, time_s=entry.time_s)
            for hit, entry in zip(hits, entries, strict=True)
        ]

    def search_text(self, description: str, top_k: int) -> list[ServedHit]:
        if self.text_searcher is None:
            raise TextSearchUnavailableError(
                "text search is not available: start the server with --text-checkpoint (a text model)"
            )
        with self._lock:
            hits = self.text_searcher.search(description, top_k=top_k)
        root = Path(self.text_searcher.gallery.root)
        return [
            ServedHit(rank=hit.rank, score=hit.score, detection_score=hit.detection_score, box=hit.box,
                      picture=Path(hit.image).relative_to(root).as_posix(), frame=None, time_s=None)
            for hit in hits
        ]


def _text_searcher(text_checkpoint, *, checkpoint, detector: str, runtime: str, onnx_dir, device: str, progress: bool):
    """A TextSearcher detecting people with the image search's detector; with the ONNX runtime its
    encoders run as exported graphs (the detector for the text index stays in PyTorch)."""
    from personsearch.api import TextSearcher

    searcher = TextSearcher(checkpoint=text_checkpoint, device=device,
                            detector=SSDLITE if detector == SSDLITE else checkpoint, progress=progress)
    if runtime == ONNX:
        from personsearch.export.onnx_runtime import ensure_exported, load_onnx_text_model

        ensure_exported(onnx_dir, text_checkpoint=text_checkpoint)
        searcher.model = load_onnx_text_model(onnx_dir, checkpoint=text_checkpoint)
    return searcher
