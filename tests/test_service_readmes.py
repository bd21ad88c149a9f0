"""Each service's (and each fake's) README has a "Where things are" table whose first column names exactly the files
and folders there are: a reader of the folder's README finds every module, and no name that has gone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Where things are"
# Present in every package folder or made by tools; a table row for them would say nothing.
UNLISTED = {"__init__.py", "README.md", "__pycache__", "node_modules"}


def folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in [*root.glob("services/*/__init__.py"), *root.glob("fakes/*/__init__.py")])


def named(readme: str) -> set[str]:
    """The files and folders the first column of the "Where things are" table names (`lua/*.lua` names `lua/`)."""
    if HEADING not in readme:
        return set()
    section = readme.split(HEADING, 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            for token in re.findall(r"`([^`]+)`", cells[1]):
                first, slash, _ = token.partition("/")
                names.add(first + slash)
    return names


def present(folder: Path) -> set[str]:
    return {
        p.name + ("/" if p.is_dir() else "")
        for p in folder.iterdir()
        if p.name not in UNLISTED and not p.name.startswith(".")
    }


def mismatch(folder: Path) -> tuple[set[str], set[str]]:
    """(what the table misses, what it names that is not there)."""
    readme = folder / "README.md"
    listed = named(readme.read_text()) if readme.is_file() else set()
    there = present(folder)
    return there - listed, listed - there


@pytest.mark.parametrize("folder", folders(ROOT), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_readme_names_every_file_of_its_folder_and_only_those(folder: Path) -> None:
    assert mismatch(folder) == (set(), set())


def test_a_missing_module_a_stale_name_and_a_missing_table_are_caught(tmp_path: Path) -> None:
    listed = tmp_path / "services" / "a"
    listed.mkdir(parents=True)
    for name in ("__init__.py", "server.py", "store.py"):
        (listed / name).write_text("")
    (listed / "lua").mkdir()
    (listed / "README.md").write_text(
        f"# A\n\n{HEADING}\n| file | owns |\n|---|---|\n| `server.py`, `gone.py` | `store.py` in prose |\n"
        "| `lua/*.lua` | checks |\n\n## Settings\n| `store.py` | another table |\n"
    )
    bare = tmp_path / "fakes" / "b"
    bare.mkdir(parents=True)
    (bare / "__init__.py").write_text("")
    (bare / "app.py").write_text("")
    (bare / "README.md").write_text("# B\n\n| file | owns |\n|---|---|\n| `app.py` | a table under no heading |\n")
    assert folders(tmp_path) == [bare, listed]
    assert mismatch(listed) == ({"store.py"}, {"gone.py"})
    assert mismatch(bare) == ({"app.py"}, set())
