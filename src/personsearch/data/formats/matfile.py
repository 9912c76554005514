"""MATLAB files: struct/cell builders for scipy.io.savemat, byte-stable writes, checked reads."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.io

from personsearch.data.errors import DatasetFormatError
from personsearch.utils.atomic import atomic_write_bytes

# The MAT 5 header is 116 bytes of text; scipy puts the current time in it, which would make
# identical content produce different bytes.
_HEADER = b"MATLAB 5.0 MAT-file, Platform: posix, Created by: personsearch".ljust(116, b" ")


def struct_array(shape: tuple[int, ...], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> np.ndarray:
    """A MATLAB struct array; `rows` fill it in C order, one value per field, in field order."""
    array = np.empty(shape, dtype=[(name, object) for name in fields])
    flat = array.reshape(-1)
    if len(rows) != flat.size:
        raise ValueError(f"struct array of shape {shape} needs {flat.size} rows, got {len(rows)}")
    for index, row in enumerate(rows):
        for name, value in zip(fields, row, strict=True):
            flat[index][name] = value
    return array


def cell_column(values: Sequence[Any]) -> np.ndarray:
    """An N x 1 MATLAB cell array."""
    cells = np.empty((len(values), 1), dtype=object)
    for index, value in enumerate(values):
        cells[index, 0] = value
    return cells


def write_mat(path: str | Path, variables: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, do_compression=False, oned_as="row")
    data = buffer.getvalue()
    atomic_write_bytes(path, _HEADER + data[len(_HEADER):])


def read_mat(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(path, "file not found")
    try:
        return scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises several unrelated types for corrupt files
        raise DatasetFormatError(path, f"not a readable MATLAB file ({exc})") from None


def read_mat_variable(path: str | Path, *names: str) -> np.ndarray:
    """The first of `names` present in the file (real datasets renamed some variables)."""
    content = read_mat(path)
    for name in names:
        if name in content:
            return content[name]
    raise DatasetFormatError(path, f"missing variable {' / '.join(names)}")


def mat_string(value: Any) -> str:
    """A MATLAB char array as loadmat returns it (possibly nested in 1x1 cells) -> str."""
    while isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"expected one string, got an array of shape {value.shape}")
        value = value.reshape(-1)[0]
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return str(value)
