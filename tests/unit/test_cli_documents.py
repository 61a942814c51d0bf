"""`meterbill documents sample`: the README's sample invoice from the real renderer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from meterbill.cli import main


def test_the_sample_is_written_as_a_pdf_a_invoice(tmp_path: Path) -> None:
    out = tmp_path / "sample.pdf"

    assert main(["documents", "sample", "--out", str(out), "--language", "de"]) == 0

    reader = PdfReader(out)
    assert "INV-2026-000731" in reader.pages[0].extract_text()
    assert "Rechnungsnummer" in reader.pages[0].extract_text()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler's pdftoppm is not installed")
def test_the_sample_picture_is_the_first_page_as_png(tmp_path: Path) -> None:
    png = tmp_path / "sample.png"

    assert main(["documents", "sample", "--out", str(tmp_path / "s.pdf"), "--png", str(png)]) == 0

    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_negative_line_count_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["documents", "sample", "--out", str(tmp_path / "s.pdf"), "--lines", "-1"]) == 2
    assert capsys.readouterr().err == "meterbill documents: --lines: -1 is negative\n"
