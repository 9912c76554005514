"""The one configuration layer: YAML files (with `_base_` inheritance) plus dotted overrides.

A config is a nested dict of plain values. Builders read sections of it and pass
explicit keyword arguments to constructors; models never see a config object.
The resolved config is saved next to every checkpoint and reloaded at test time.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from personsearch.utils.atomic import atomic_write_text

PRESET_PREFIX = "preset:"


class ConfigError(ValueError):
    pass


def list_presets() -> list[str]:
    """Names of the YAML presets shipped inside the package (usable as `preset:NAME`)."""
    folder = resources.files("personsearch") / "configs"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _preset_path(name: str) -> Path:
    path = Path(str(resources.files("personsearch") / "configs" / f"{name}.yaml"))
    if not path.is_file():
        raise ConfigError(f"unknown preset {name!r}; valid presets: {', '.join(list_presets())}")
    return path


def resolve_config_path(spec: str | Path, relative_to: Path | None = None) -> Path:
    """`preset:NAME`, a bare preset name, or a file path (relative to the including file)."""
    spec = str(spec)
    if spec.startswith(PRESET_PREFIX):
        return _preset_path(spec[len(PRESET_PREFIX):])
    path = Path(spec)
    if not path.is_absolute() and relative_to is not None and (relative_to / path).is_file():
        return relative_to / path
    if path.is_file():
        return path
    if path.suffix == "" and spec in list_presets():
        return _preset_path(spec)
    raise ConfigError(f"config file not found: {spec}")


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge; dicts merge key by key, everything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(spec: str | Path, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Load a YAML config, following `_base_` (a path or preset) recursively, then apply overrides."""
    cfg = _load_file(resolve_config_path(spec), seen=())
    return apply_overrides(cfg, overrides)


def _load_file(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: circular _base_ chain: {' -> '.join(map(str, seen + (path,)))}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    base_spec = data.pop("_base_", None)
    if base_spec is None:
        return data
    base = _load_file(resolve_config_path(base_spec, relative_to=path.parent), seen + (path,))
    return merge(base, data)


def parse_override(text: str) -> tuple[list[str], Any, bool]:
    """`a.b.c=value` (key must exist) or `+a.b.c=value` (may add a key). Values are parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    allow_new = key.startswith("+")
    key = key.lstrip("+").strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key part")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value, allow_new


def apply_overrides(cfg: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    for text in overrides:
        parts, value, allow_new = parse_override(text)
        node = cfg
        for depth, part in enumerate(parts[:-1]):
            if part not in node:
                if not allow_new:
                    raise ConfigError(_unknown_key(parts[: depth + 1], node))
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {'.'.join(parts[: depth + 1])} is not a section")
        if parts[-1] not in node and not allow_new:
            raise ConfigError(_unknown_key(parts, node))
        node[parts[-1]] = value
    return cfg


def _unknown_key(parts: list[str], node: dict[str, Any]) -> str:
    keys = ", ".join(sorted(node)) or "(none)"
    return f"unknown config key {'.'.join(parts)!r} (valid here: {keys}; prefix with + to add a new key)"


def save_config(cfg: dict[str, Any], path: str | Path) -> None:
    atomic_write_text(path, yaml.safe_dump(cfg, sort_keys=False))


def section(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    value = cfg.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"config section {name!r} must be a mapping")
    return dict(value)


def check_section_keys(name: str, values: Mapping[str, Any], valid: Sequence[str]) -> None:
    """ConfigError naming the unknown keys of section `name` and the valid ones."""
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ConfigError(f"unknown {name} setting(s) {unknown}; valid: {', '.join(valid)}")
