"""The console's vendored front-end libraries are exactly the files VENDORED.md names: each file's SHA-256 is
recomputed, each package's licence file is beside its code and names its licence, and the version the table
states is the one inside the minified file. A silently changed, added or removed vendored file fails here."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "layers/common/python/meterbill/console/static/vendor"
COLUMNS = ["File", "Package", "Version", "Source in the tarball", "Licence", "SHA-256"]
# How each licence's own text names it.
LICENCE_TITLES = {"0BSD": "Zero-Clause BSD", "MIT": "The MIT License"}


@dataclass(frozen=True)
class Row:
    file: str
    package: str
    version: str
    source: str
    licence: str
    sha256: str


def vendored() -> list[Row]:
    lines = (VENDOR / "VENDORED.md").read_text(encoding="utf-8").splitlines()
    table = [line for line in lines if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == COLUMNS
    rows = [Row(*(cell.strip() for cell in line.strip("|").split("|"))) for line in table[2:]]
    return rows


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_vendored_md_lists_the_two_packages_with_their_licences() -> None:
    assert {(row.package, row.licence) for row in vendored()} == {("htmx.org", "0BSD"), ("uplot", "MIT")}


def test_vendored_md_lists_exactly_the_files_in_the_vendor_folder() -> None:
    on_disk = sorted(path.name for path in VENDOR.iterdir() if path.name != "VENDORED.md")
    assert sorted(row.file for row in vendored()) == on_disk
    assert on_disk == [
        "htmx.LICENSE.txt",
        "htmx.min.js",
        "uPlot.LICENSE.txt",
        "uPlot.iife.min.js",
        "uPlot.min.css",
    ]


@pytest.mark.parametrize("row", vendored(), ids=lambda row: row.file)
def test_each_vendored_file_has_the_sha256_vendored_md_states(row: Row) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", row.sha256), f"{row.file}: not a SHA-256: {row.sha256!r}"
    assert sha256(VENDOR / row.file) == row.sha256, (
        f"{row.file} changed: recompute its SHA-256 into VENDORED.md when updating it (console/README.md)"
    )


@pytest.mark.parametrize("package", ["htmx.org", "uplot"])
def test_each_package_has_its_licence_file_naming_its_licence(package: str) -> None:
    rows = [row for row in vendored() if row.package == package]
    licences = [row for row in rows if row.source == "package/LICENSE"]
    assert len(licences) == 1, f"{package}: exactly one licence file copied from package/LICENSE"
    (licence,) = licences
    assert {row.licence for row in rows} == {licence.licence}
    assert {row.version for row in rows} == {licence.version}
    text = (VENDOR / licence.file).read_text(encoding="utf-8")
    assert LICENCE_TITLES[licence.licence] in text


@pytest.mark.parametrize(
    ("file", "stamp"),
    [("htmx.min.js", 'version="{version}"'), ("uPlot.iife.min.js", "uPlot (v{version})")],
)
def test_each_library_is_the_version_vendored_md_states(file: str, stamp: str) -> None:
    (row,) = [row for row in vendored() if row.file == file]
    assert stamp.format(version=row.version) in (VENDOR / file).read_text(encoding="utf-8")
