"""The synthetic person world: identities, cameras, scenes and person crops, all reproducible.

Scene i and crop i are rendered from generators seeded by (seed, kind, i), so any item can be
made on its own, in any order or process, and always comes out byte-identical.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
from PIL import Image

from personsearch.data.synth.camera import CameraProfile, sample_camera
from personsearch.data.synth.captions import describe
from personsearch.data.synth.crop import render_crop_image, sample_crop_layout
from personsearch.data.synth.identity import Identity, build_identities
from personsearch.data.synth.palette import COLOURS
from personsearch.data.synth.schedule import ScenePlan, plan_scenes
from personsearch.data.synth.scene import render_scene
from personsearch.data.synth.scenery import render_background
from personsearch.data.synth.types import VIEWPOINTS, ProximityEdit, SynthCrop, SynthScene
from personsearch.data.synth.visibility import visible_attributes

# Bumped whenever one spec and seed give other pictures or boxes, so that cached worlds are rewritten.
# 1: until 2026-12-05; 2: people at the image border annotated as real datasets do.
GENERATOR_VERSION = 2

# Generator streams: default_rng([seed, stream, index]).
_IDENTITIES, _CAMERAS, _SCHEDULE, _BACKGROUND, _SCENE, _CROP, _CROP_FIGURE, _CAPTION, _CROP_ORDER = range(9)
EDITABLE_ATTRIBUTES = ("upper_color", "lower_color", "shoes_color", "bag_color", "headwear_color")


@dataclass(frozen=True)
class WorldSpec:
    num_identities: int
    num_scenes: int
    num_cameras: int
    num_crops: int | None = None  # None: num_identities * crops_per_identity
    crops_per_identity: int = 6
    near_twin_fraction: float = 0.35  # share of identities made as a one- or two-attribute variant of another
    train_fraction: float = 0.5  # share of identities (and of each camera's scenes) used for training
    min_people: int = 1
    max_people: int = 14
    labelled_fraction: float = 0.7
    scene_sizes: tuple[tuple[int, int], ...] = ((640, 480), (576, 432), (480, 360))
    crop_height_range: tuple[int, int] = (128, 384)
    scenes_per_sequence: int = 60
    backgrounds_per_camera: int = 3
    supersample: int = 2
    # A dataset's own look, applied to every camera on top of its sampled profile (defaults: none):
    # pre-training sources differ from the target world in colour cast, sharpness, noise, saturation.
    camera_cast: tuple[float, float, float] = (1.0, 1.0, 1.0)
    camera_blur_scale: float = 1.0
    camera_noise_scale: float = 1.0
    camera_saturation_scale: float = 1.0


_SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(num_identities=16, num_scenes=30, num_cameras=3, scene_sizes=((320, 240),),
                 crop_height_range=(80, 160), scenes_per_sequence=5),
    # `demo`: the small world's make at 2/5 of its scenes, so that `personsearch demo` writes it and
    # scores a model on its whole test split within minutes on two CPU cores.
    "demo": dict(num_identities=200, num_scenes=800, num_cameras=6),
    "small": dict(num_identities=500, num_scenes=2000, num_cameras=6),
    "medium": dict(num_identities=2500, num_scenes=10000, num_cameras=6),
}


def list_world_sizes() -> list[str]:
    return sorted(_SIZES)


def _rng(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, index])


def _dataset_look(camera: CameraProfile, spec: WorldSpec) -> CameraProfile:
    return dataclasses.replace(
        camera,
        cast=tuple(float(c * g) for c, g in zip(camera.cast, spec.camera_cast)),
        blur=camera.blur * spec.camera_blur_scale,
        noise=camera.noise * spec.camera_noise_scale,
        saturation=camera.saturation * spec.camera_saturation_scale,
    )


class SynthWorld:
    def __init__(self, size: str = "tiny", seed: int = 0, **overrides: Any) -> None:
        if size not in _SIZES:
            raise KeyError(f"unknown world size {size!r}; valid choices: {', '.join(list_world_sizes())}")
        fields = {f.name for f in dataclasses.fields(WorldSpec)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise TypeError(f"unknown WorldSpec fields {unknown}; valid: {sorted(fields)}")
        spec = WorldSpec(**{**_SIZES[size], **overrides})
        if spec.num_crops is None:
            spec = dataclasses.replace(spec, num_crops=spec.num_identities * spec.crops_per_identity)
        if spec.num_cameras < 2:
            raise ValueError("a world needs at least 2 cameras so identities can be seen in two of them")
        self.size, self.seed, self._overrides = size, seed, dict(overrides)
        self.spec = spec
        self._identities = build_identities(spec.num_identities, spec.near_twin_fraction, _rng(seed, _IDENTITIES))
        lighting = _rng(seed, _CAMERAS).permutation(max(6, spec.num_cameras))
        self.cameras: list[CameraProfile] = [
            _dataset_look(sample_camera(c, spec.scene_sizes, int(lighting[c]), _rng(seed, _CAMERAS, c + 1)), spec)
            for c in range(spec.num_cameras)
        ]
        self._num_train_ids = int(round(spec.num_identities * spec.train_fraction))
        self._plans = plan_scenes(
            num_scenes=spec.num_scenes, num_cameras=spec.num_cameras,
            train_pids=list(range(self._num_train_ids)), test_pids=list(range(self._num_train_ids, spec.num_identities)),
            train_fraction=spec.train_fraction, min_people=spec.min_people, max_people=spec.max_people,
            labelled_fraction=spec.labelled_fraction, scenes_per_sequence=spec.scenes_per_sequence,
            rng=_rng(seed, _SCHEDULE),
        )
        self._backgrounds: dict[tuple[int, int], Image.Image] = {}

    # ---- sizes and identities ------------------------------------------------------------------
    @property
    def num_identities(self) -> int:
        return self.spec.num_identities

    @property
    def num_cameras(self) -> int:
        return self.spec.num_cameras

    @property
    def num_scenes(self) -> int:
        return self.spec.num_scenes

    @property
    def num_crops(self) -> int:
        return int(self.spec.num_crops)

    def identity_split(self, pid: int) -> str:
        self._check_pid(pid)
        return "train" if pid < self._num_train_ids else "test"

    def identity_attributes(self, pid: int) -> dict[str, str]:
        self._check_pid(pid)
        return dict(self._identities[pid].attributes)

    def identity(self, pid: int) -> Identity:
        self._check_pid(pid)
        return self._identities[pid]

    def scene_plan(self, index: int) -> ScenePlan:
        self._check_index(index, self.num_scenes, "scene")
        return self._plans[index]

    def background(self, camera: int, variant: int) -> Image.Image:
        key = (camera, variant)
        if key not in self._backgrounds:
            rng = _rng(self.seed, _BACKGROUND, camera * 1000 + variant)
            self._backgrounds[key] = render_background(self.cameras[camera], variant, rng)
        return self._backgrounds[key]

    # ---- scenes --------------------------------------------------------------------------------
    def scene(self, index: int) -> SynthScene:
        plan = self.scene_plan(index)
        rng = _rng(self.seed, _SCENE, index)
        variant = int(rng.integers(self.spec.backgrounds_per_camera))
        return render_scene(plan=plan, camera=self.cameras[plan.camera], background=self.background(plan.camera, variant),
                            identity_of=self.identity, rng=rng, supersample=self.spec.supersample)

    def scenes(self, workers: int = 1) -> Iterator[SynthScene]:
        yield from self._iterate("scene", self.num_scenes, workers)

    # ---- crops ---------------------------------------------------------------------------------
    def crop_pid(self, index: int) -> int:
        self._check_index(index, self.num_crops, "crop")
        return index % self.num_identities

    def _crop_view(self, index: int) -> tuple[int, int, str]:
        pid = self.crop_pid(index)
        visit = index // self.num_identities
        order = _rng(self.seed, _CROP_ORDER, pid)
        cameras = order.permutation(self.num_cameras)
        views = order.permutation(len(VIEWPOINTS))
        return pid, int(cameras[visit % self.num_cameras]), VIEWPOINTS[int(views[visit % len(VIEWPOINTS)])]

    def _render_crop(self, index: int, identity: Identity) -> tuple[Image.Image, tuple[str, str], str, dict[str, str], int]:
        pid, camera_index, viewpoint = self._crop_view(index)
        camera = self.cameras[camera_index]
        rng = _rng(self.seed, _CROP, index)
        background = self.background(camera_index, int(rng.integers(self.spec.backgrounds_per_camera)))
        layout = sample_crop_layout(camera, background, self.spec.crop_height_range, rng)
        image = render_crop_image(identity=identity, viewpoint=viewpoint, camera=camera, background=background,
                                  layout=layout, rng=_rng(self.seed, _CROP_FIGURE, index), supersample=self.spec.supersample)
        visible = visible_attributes(identity.attributes, viewpoint)
        captions = describe(visible, viewpoint, camera.style, _rng(self.seed, _CAPTION, index))
        return image, captions, viewpoint, visible, camera_index

    def crop(self, index: int) -> SynthCrop:
        pid = self.crop_pid(index)
        image, captions, viewpoint, visible, camera = self._render_crop(index, self._identities[pid])
        return SynthCrop(index=index, pid=pid, camera=camera, split=self.identity_split(pid), image=image,
                         captions=captions, viewpoint=viewpoint, attributes=visible,
                         jpeg_quality=self.cameras[camera].jpeg_quality)

    def crops(self, workers: int = 1) -> Iterator[SynthCrop]:
        yield from self._iterate("crop", self.num_crops, workers)

    # ---- proximity edits -----------------------------------------------------------------------
    def editable_attributes(self, crop_index: int) -> dict[str, str]:
        """The colour attributes crop `crop_index` shows (and its captions name), with their values."""
        pid, _, viewpoint = self._crop_view(crop_index)
        visible = visible_attributes(self._identities[pid].attributes, viewpoint)
        return {name: visible[name] for name in EDITABLE_ATTRIBUTES if name in visible}

    def proximity_edit(self, crop_index: int, attribute: str, new_value: str) -> ProximityEdit:
        """Re-render the same person image (pose, viewpoint, background, camera) with one colour changed."""
        editable = self.editable_attributes(crop_index)
        if attribute not in editable:
            raise ValueError(f"attribute {attribute!r} is not editable in crop {crop_index}; editable: {sorted(editable)}")
        if new_value not in COLOURS:
            raise ValueError(f"unknown colour {new_value!r}; valid choices: {', '.join(sorted(COLOURS))}")
        old_value = editable[attribute]
        if new_value == old_value:
            raise ValueError(f"{attribute} is already {new_value!r}")
        edited = self._identities[self.crop_pid(crop_index)].with_value(attribute, new_value)
        image, captions, _, _, _ = self._render_crop(crop_index, edited)
        return ProximityEdit(image=image, captions=captions, attribute=attribute, old_value=old_value, new_value=new_value)

    # ---- internals -----------------------------------------------------------------------------
    def _iterate(self, kind: str, count: int, workers: int) -> Iterator[Any]:
        make = self.scene if kind == "scene" else self.crop
        if workers <= 1 or count < 2:
            for index in range(count):
                yield make(index)
            return
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, initializer=_init_worker, initargs=(self.size, self.seed, self._overrides)) as pool:
            yield from pool.imap(_scene_job if kind == "scene" else _crop_job, range(count), chunksize=4)

    def _check_pid(self, pid: int) -> None:
        self._check_index(pid, self.num_identities, "identity")

    @staticmethod
    def _check_index(index: int, count: int, kind: str) -> None:
        if not 0 <= index < count:
            raise IndexError(f"{kind} index {index} out of range 0..{count - 1}")


_WORKER_WORLD: SynthWorld | None = None


def _init_worker(size: str, seed: int, overrides: dict[str, Any]) -> None:
    global _WORKER_WORLD
    _WORKER_WORLD = SynthWorld(size=size, seed=seed, **overrides)


def _scene_job(index: int) -> SynthScene:
    assert _WORKER_WORLD is not None
    return _WORKER_WORLD.scene(index)


def _crop_job(index: int) -> SynthCrop:
    assert _WORKER_WORLD is not None
    return _WORKER_WORLD.crop(index)
