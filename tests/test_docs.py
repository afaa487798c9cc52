"""The repository stands alone: the README and every page under docs/ link only to files
that exist in it (or to fragments of them), and every picture the guides show is taken by a
browser test (`screenshot(name, docs=True)`), so it shows the pages as they are."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return LINK.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_points_at_a_file_in_the_repository(page):
    broken = []
    for target in links(page):
        if target.startswith(("http://", "https://", "mailto:")):
            broken.append(f"{target}: outside the repository")
            continue
        path = target.split("#", 1)[0]
        resolved = (page.parent / path).resolve()
        if path and not resolved.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif path and not resolved.exists():
            broken.append(f"{target}: no such file")
    assert not broken, broken


def test_every_picture_of_the_guides_is_taken_by_a_browser_test():
    shown = {
        Path(target).name for page in PAGES for target in links(page) if target.endswith(".png")
    }
    tests = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "browser").glob("*.py")
    )
    taken = set(re.findall(r'screenshot\(\s*"([^"]+)"[^)]*docs=True', tests))
    assert shown, "the guides show no pictures"
    assert shown <= {f"{name}.png" for name in taken}, shown - {f"{n}.png" for n in taken}
