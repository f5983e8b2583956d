"""Bounded, clean form and query fields of the console.

Every string is bounded by its declaration before the page does any work, and refused
when it holds NUL, a lone surrogate or another control character (:data:`Text`); a
:data:`Line` (a name, a reason, a method: text a table keeps in the clear) refuses
format characters as well (bidi overrides, zero-width), which could reorder a page.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

from haechi.subjects.values import unsafe_text

__all__ = ["Line", "Text"]


def _text(value: str) -> str:
    if unsafe_text(value):
        raise ValueError("contains a control character, NUL or a lone surrogate")
    return value


def _line(value: str) -> str:
    if any(unicodedata.category(character) in ("Cc", "Cf") for character in value):
        raise ValueError("contains a control or format character")
    return value


Text = Annotated[str, AfterValidator(_text)]
Line = Annotated[str, AfterValidator(_text), AfterValidator(_line)]
