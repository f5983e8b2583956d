"""The quarterly report page: both languages, inline pygal charts, escaped staff text."""

from __future__ import annotations

import itertools
import re

import pytest

from haechi import Engine
from haechi.web.report_document import render_report
from tests.reports.crafted import craft
from tests.reports.test_figures import OFFICER


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_report_renders_with_inline_charts_and_no_external_url(engine: Engine, lang: str) -> None:
    """It renders one h1, inline SVG charts, headings in order, and fetches nothing."""
    craft(engine)
    page = render_report(
        engine.policy.policy, engine.quarterly_report("2026Q1", actor=OFFICER), lang=lang
    )
    assert page.count("<h1>") == 1
    assert page.count("<svg") == 2
    assert "<script" not in page
    assert not re.search(r"(href|src)=\"https?:|url\(|@import|<!--", page)
    levels = [int(level) for level in re.findall(r"<h([1-6])>", page)]
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    assert 'scope="col"' in page
    assert "@media print" in page
    assert f'<html lang="{lang}">' in page
    assert ("내부 점검" in page) == (lang == "ko")
    assert "<b>month-end</b>" not in page
    assert "&lt;b&gt;month-end" in page
    assert "<script>x</script>" not in page
