"""A table row of a signed document (a prescription line) never splits across PDF pages."""

from __future__ import annotations

from collections.abc import Iterator

import weasyprint

from hub.documents.render import _fonts, _stylesheet

LINES = 40
LONG_NOTE = " ".join(["Take with food and water, not before driving."] * 6)


def _html() -> str:
    rows = "".join(
        f'<tr id="line-{n}"><td>{n}</td><td>Medicine {n}</td><td>500 mg</td><td>oral</td>'
        f"<td>3/day</td><td>7</td><td>{LONG_NOTE}</td></tr>"
        for n in range(LINES)
    )
    return (
        '<html><body><table class="lines"><thead><tr><th>#</th><th>M</th><th>D</th>'
        f"<th>R</th><th>F</th><th>Days</th><th>Notes</th></tr></thead><tbody>{rows}"
        "</tbody></table></body></html>"
    )


def _row_ids(box: object) -> Iterator[str]:
    element = getattr(box, "element", None)
    if type(box).__name__ == "TableRowBox" and element is not None and element.get("id"):
        yield element.get("id")
    for child in getattr(box, "children", ()):
        yield from _row_ids(child)


def test_prescription_rows_stay_whole_on_one_page() -> None:
    document = weasyprint.HTML(string=_html()).render(
        stylesheets=[_stylesheet()], font_config=_fonts()
    )
    assert len(document.pages) > 1  # enough lines to cross pages
    pages_of: dict[str, list[int]] = {}
    for index, page in enumerate(document.pages):
        for row in set(_row_ids(page._page_box)):
            pages_of.setdefault(row, []).append(index)
    assert set(pages_of) == {f"line-{n}" for n in range(LINES)}
    split = {row: pages for row, pages in pages_of.items() if len(pages) > 1}
    assert split == {}
