"""Complete invoice documents per second on one core, and where the time goes.

Run: ``.venv/bin/python bench/documents.py [--runs N] [--lines N] [--language en|de]``
(not a test; prints its figures, exits 0).

The document is the sample invoice (``meterbill.documents.sample``: two meters, time-of-use lines, a shared
meter, a 12-month chart, a logo) with ``--lines`` more lines per meter (default 14: two pages). Each stage is
timed on its own, in the order the pipeline runs them:

1. **xml**: the Factur-X / EN 16931 CII XML (``documents.facturx.invoice_xml``);
2. **render**: the PDF/A-3B with the XML embedded (``documents.pdf.invoice_pdf``);
3. **sign**: the PAdES signature (``documents.signing.sign_pdf``, a self-signed EC key).

A stage whose module is not there yet is reported as missing; render then embeds a placeholder XML of a
typical size so that its figure still includes the embedding. Figures: best and median of N runs after two
warm-up runs, and documents/s = 1000 / (sum of the stages' medians). The goal is 25 complete documents/s.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "common" / "python"))

from meterbill.documents.pdf import invoice_pdf
from meterbill.documents.sample import sample_document, sample_logo

GOAL_PER_S = 25.0
PLACEHOLDER_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:'
    b'data:standard:CrossIndustryInvoice:100">'
    + b"<!-- placeholder -->" * 500
    + b"</rsm:CrossIndustryInvoice>\n"
)


@dataclass
class Stage:
    name: str
    times_ms: list[float]  # wall clock
    note: str = ""
    cpu_ms: list[float] | None = None  # this process's CPU time: what one core spends, whatever else runs

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_ms or self.times_ms)

    @property
    def best(self) -> float:
        return min(self.times_ms)

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)


def timed(runs: int, call: Callable[[], Any]) -> tuple[tuple[list[float], list[float]], Any]:
    """Wall-clock and CPU milliseconds of each run."""
    result = call()
    call()
    wall, cpu = [], []
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            result = call()
            cpu.append((time.process_time() - start_cpu) * 1000)
            wall.append((time.perf_counter() - start) * 1000)
    finally:
        gc.enable()
    return (wall, cpu), result


def optional(module: str, name: str) -> Callable[..., Any] | None:
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--lines", type=int, default=14, help="more lines per meter (default 14: 2 pages)")
    parser.add_argument("--language", choices=("en", "de"), default="de")
    args = parser.parse_args()

    doc = sample_document(language=args.language, logo=sample_logo(), lines_per_meter=args.lines)
    stages: list[Stage] = []

    invoice_xml = optional("meterbill.documents.facturx", "invoice_xml")
    if invoice_xml is None:
        xml = PLACEHOLDER_XML
        stages.append(Stage("xml", [0.0], "missing (documents.facturx not on this branch)"))
    else:
        (wall, cpu), xml = timed(args.runs, lambda: invoice_xml(doc))
        stages.append(Stage("xml", wall, f"{len(xml):,} bytes", cpu))

    start = time.perf_counter()
    first = invoice_pdf(doc, factur_x_xml=xml)  # the first document of a process parses the fonts
    first_ms = (time.perf_counter() - start) * 1000
    (wall, cpu), pdf = timed(args.runs, lambda: invoice_pdf(doc, factur_x_xml=xml))
    assert pdf == first, "the same document rendered to different bytes"
    pages = pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    note = f"{len(pdf):,} bytes, {pages} pages; the first in a process {first_ms:.0f} ms (fonts)"
    stages.append(Stage("render", wall, note, cpu))
    # The render above repeats one document, so what documents.pdf keeps across documents (line breaks,
    # the logo) is always at hand. Two more figures, not in the total: a different buyer each document
    # (a bill run), and those caches emptied before each document (the first document of a seller).
    buyers = [
        sample_document(
            language=args.language,
            logo=sample_logo(),
            lines_per_meter=args.lines,
            buyer_name=f"{name} {i}",
        )
        for i, name in enumerate(["Łukasz Wójcik", "Jürgen Äßler GmbH", "Zoë Ångström & Partner"] * args.runs)
    ]
    others = iter(buyers)
    (_, buyers_cpu), _ = timed(args.runs, lambda: invoice_pdf(next(others), factur_x_xml=xml))
    extra = [f"render, a different buyer each document: {statistics.median(buyers_cpu):.1f} ms CPU"]
    empty_caches = optional("meterbill.documents.pdf", "clear_document_caches")
    if empty_caches is not None:

        def cold() -> bytes:
            empty_caches()
            return invoice_pdf(doc, factur_x_xml=xml)

        (_, cold_cpu), _ = timed(args.runs, cold)
        extra.append(f"render, line breaks and logo not kept: {statistics.median(cold_cpu):.1f} ms CPU")

    sign_pdf = optional("meterbill.documents.signing", "sign_pdf")
    self_signed_key = optional("meterbill.documents.signing", "self_signed_key")
    if sign_pdf is None or self_signed_key is None:
        stages.append(Stage("sign", [0.0], "missing (documents.signing not on this branch)"))
    else:
        key = self_signed_key("meterbill bench", datetime(2026, 12, 1, tzinfo=UTC))
        (wall, cpu), signed = timed(args.runs, lambda: sign_pdf(pdf, key))
        stages.append(Stage("sign", wall, f"+{len(signed) - len(pdf):,} bytes", cpu))

    print(f"documents: sample invoice, {args.language}, {args.lines} more lines per meter, {args.runs} runs")
    print(f"{'stage':<8} {'best ms':>9} {'median ms':>10} {'median CPU ms':>14}  note")
    for stage in stages:
        figures = f"{stage.best:>9.1f} {stage.median:>10.1f} {stage.cpu_median:>14.1f}"
        print(f"{stage.name:<8} {figures}  {stage.note}")
    total = sum(stage.median for stage in stages)
    total_cpu = sum(stage.cpu_median for stage in stages)
    missing = [stage.name for stage in stages if stage.note.startswith("missing")]
    print(f"{'total':<8} {sum(s.best for s in stages):>9.1f} {total:>10.1f} {total_cpu:>14.1f}")
    print(
        f"{1000 / total_cpu:.1f} documents/s per core of CPU time ({1000 / total:.1f}/s by the wall clock; "
        f"goal {GOAL_PER_S:.0f})" + (f"; without {', '.join(missing)}" if missing else "")
    )
    for line in extra:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
