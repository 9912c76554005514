"""Training recipes. Each recipe module defines

    train_from_config(cfg: dict, *, resume: str | None = None) -> list[dict]   # per-epoch history
    evaluate_from_config(cfg: dict, *, checkpoint: str, **options) -> dict   # metrics report

and is chosen by the config's `method.name`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from personsearch.config import ConfigError

RECIPES: dict[str, str] = {
    "pretrain": "personsearch.methods.pretrain",
    "supervised": "personsearch.methods.supervised",
    "dicl": "personsearch.methods.dicl.recipe",
}


def list_methods() -> list[str]:
    return sorted(RECIPES)


def method_name(cfg: dict) -> str:
    method = cfg.get("method")
    name = method.get("name") if isinstance(method, dict) else method
    if not name:
        raise ConfigError(f"the config has no method.name; valid methods: {', '.join(list_methods())}")
    return str(name)


def get_recipe(name: str) -> ModuleType:
    if name not in RECIPES:
        raise ConfigError(f"unknown method {name!r}; valid methods: {', '.join(list_methods())}")
    return importlib.import_module(RECIPES[name])
