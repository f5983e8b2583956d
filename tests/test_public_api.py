"""The public surface: exports kept sorted and real, every setting documented."""

from __future__ import annotations

import importlib

import pytest
from pydantic import BaseModel

import haechi
from haechi.config import Settings

MODULES = ["haechi", "haechi.errors", "haechi.policy", "haechi.crypto", "haechi.access"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_importable(name: str) -> None:
    """It keeps __all__ sorted (constants, classes, functions), and every name exists."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=isort_key)
    assert all(hasattr(module, symbol) for symbol in exported)


def isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    return (1 if name[0].isupper() else 2, name)


def walk(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(walk(annotation, f"{prefix}{name}."))
        else:
            found.append((f"{prefix}{name}", field.description))
    return found


def test_every_setting_is_documented() -> None:
    """It gives every setting, in every section, a description."""
    undocumented = [name for name, description in walk(Settings) if not description]
    assert undocumented == []


def test_every_error_has_a_distinct_code() -> None:
    """It gives each exception class of the tree its own stable code."""
    classes = [
        getattr(haechi.errors, name)
        for name in haechi.errors.__all__
        if isinstance(getattr(haechi.errors, name), type)
        and issubclass(getattr(haechi.errors, name), haechi.HaechiError)
    ]
    codes = [cls.code for cls in classes if cls is not haechi.AccessDenied]
    assert len(codes) == len(set(codes))
