"""The dataset catalog: each real format by name, its kind, its loader and its writer.

    load_dataset("prw", "/data/PRW-v16.04.20")           -> SceneSearchData
    write_dataset("prw", SynthWorld(size="tiny"), "out")  -> WriteResult
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from personsearch.data.formats import (
    crowdhuman,
    cuhk03,
    cuhk_pedes,
    cuhk_sysu,
    ecp,
    icfg_pedes,
    luperson,
    market1501,
    msmt17,
    prw,
    rstpreid,
)
from personsearch.data.formats.writing import WriteResult
from personsearch.registry import Registry

KINDS = ("scene", "caption", "crop", "detection")


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    kind: str  # one of KINDS: what the loader returns (SceneSearchData, CaptionData, CropData, DetectionData)
    load: Callable[..., Any]  # load(root, **kwargs)
    write: Callable[..., WriteResult]  # write(world, out, workers=..., show_progress=...)


DATASETS: Registry[DatasetEntry] = Registry("dataset")

for _entry in (
    DatasetEntry(name="crowdhuman", kind="detection", load=crowdhuman.load_crowdhuman, write=crowdhuman.write_crowdhuman),
    DatasetEntry(name="cuhk-pedes", kind="caption", load=cuhk_pedes.load_cuhk_pedes, write=cuhk_pedes.write_cuhk_pedes),
    DatasetEntry(name="cuhk-sysu", kind="scene", load=cuhk_sysu.load_cuhk_sysu, write=cuhk_sysu.write_cuhk_sysu),
    DatasetEntry(name="cuhk03", kind="crop", load=cuhk03.load_cuhk03, write=cuhk03.write_cuhk03),
    DatasetEntry(name="ecp", kind="detection", load=ecp.load_ecp, write=ecp.write_ecp),
    DatasetEntry(name="icfg-pedes", kind="caption", load=icfg_pedes.load_icfg_pedes, write=icfg_pedes.write_icfg_pedes),
    DatasetEntry(name="luperson", kind="crop", load=luperson.load_luperson, write=luperson.write_luperson),
    DatasetEntry(name="market1501", kind="crop", load=market1501.load_market1501, write=market1501.write_market1501),
    DatasetEntry(name="msmt17", kind="crop", load=msmt17.load_msmt17, write=msmt17.write_msmt17),
    DatasetEntry(name="prw", kind="scene", load=prw.load_prw, write=prw.write_prw),
    DatasetEntry(name="rstpreid", kind="caption", load=rstpreid.load_rstpreid, write=rstpreid.write_rstpreid),
):
    DATASETS.register(_entry.name)(_entry)


def list_datasets() -> list[str]:
    return DATASETS.names()


def dataset_kind(name: str) -> str:
    return DATASETS.get(name).kind


def load_dataset(name: str, root: str | Path, **kwargs: Any):
    """The dataset at `root` in format `name`; kwargs go to its loader (e.g. gallery_size=)."""
    return DATASETS.get(name).load(root, **kwargs)


def write_dataset(name: str, world, out: str | Path, **kwargs: Any) -> WriteResult:
    """Lay a synthetic world out in format `name` under `out`; kwargs: workers, show_progress."""
    return DATASETS.get(name).write(world, out, **kwargs)
