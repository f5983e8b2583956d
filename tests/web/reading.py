"""Read a rendered policy document back: headings, tables and text, from HTML or Markdown."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from haechi.policy.durations import Period


@dataclass
class Cell:
    """One table cell: th or td, its scope, its text."""

    tag: str
    scope: str | None
    text: str = ""


@dataclass
class Document:
    """What a reader of the HTML sees, structured enough to check it."""

    doctype: str = ""
    lang: str | None = None
    headings: list[tuple[int, str]] = field(default_factory=list)
    tables: list[list[list[Cell]]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    text: str = ""

    def section(self, heading: str) -> str:
        """The text from ``heading`` to the next heading of the same or a higher level."""
        return self._sections[heading]

    _sections: dict[str, str] = field(default_factory=dict)

    def table_after(self, heading: str) -> dict[str, list[str]]:
        """The first table under ``heading``: row header → the other cells."""
        index = self._table_index[heading]
        rows = self.tables[index]
        return {
            row[0].text: [cell.text for cell in row[1:]]
            for row in rows
            if row[0].tag == "th" and row[0].scope == "row"
        }

    _table_index: dict[str, int] = field(default_factory=dict)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doc = Document()
        self._heading: tuple[int, list[str]] | None = None
        self._cell: Cell | None = None
        self._row: list[Cell] | None = None
        self._in_style = False
        self._chunks: list[str] = []
        self._current: str | None = None
        self._section_text: dict[str, list[str]] = {}

    def handle_decl(self, decl: str) -> None:
        self.doc.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.doc.lang = attributes.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = (int(tag[1]), [])
        if tag == "table":
            self.doc.tables.append([])
            if self._current is not None:
                self.doc._table_index.setdefault(self._current, len(self.doc.tables) - 1)
        if tag == "tr":
            self._row = []
        if tag in ("th", "td"):
            self._cell = Cell(tag, attributes.get("scope"))
        if tag == "a" and attributes.get("href"):
            self.doc.links.append(str(attributes["href"]))
        if tag in ("link", "script", "img", "iframe") or (tag == "style" and "src" in attributes):
            self.doc.assets.append(tag)
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            level, parts = self._heading
            text = " ".join("".join(parts).split())
            self.doc.headings.append((level, text))
            self._heading = None
            self._current = text
            self._section_text.setdefault(text, [])
        if tag in ("th", "td") and self._cell is not None and self._row is not None:
            self._cell.text = " ".join(self._cell.text.split())
            self._row.append(self._cell)
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.doc.tables[-1].append(self._row)
            self._row = None
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.doc.styles.append(data)
            return
        self._chunks.append(data)
        if self._heading is not None:
            self._heading[1].append(data)
        if self._cell is not None:
            self._cell.text += data
        if self._current is not None and self._heading is None:
            self._section_text[self._current].append(data)


def read_html(html: str) -> Document:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    document = reader.doc
    document.text = " ".join("".join(reader._chunks).split())
    document._sections = {
        heading: " ".join("".join(parts).split()) for heading, parts in reader._section_text.items()
    }
    return document


def markdown_headings(markdown: str) -> list[tuple[int, str]]:
    return [
        (len(match.group(1)), match.group(2).strip())
        for match in re.finditer(r"^(#{1,6}) (.+)$", markdown, flags=re.MULTILINE)
    ]


_EN_PERIOD = re.compile(r"(\d+) (year|month|day)s?")
_KO_PERIOD = re.compile(r"(\d+)(년|개월|일)")


def period_of(text: str) -> Period:
    """The calendar period a sentence states in English (1 year 6 months) or Korean (1년 6개월)."""
    parts = {"year": 0, "month": 0, "day": 0}
    units = {"년": "year", "개월": "month", "일": "day"}
    for number, unit in _EN_PERIOD.findall(text) or _KO_PERIOD.findall(text):
        parts[units.get(unit, unit)] += int(number)
    return Period(years=parts["year"], months=parts["month"], days=parts["day"])
