"""`meterbill documents sample`: render the sample invoice (``documents.sample``: two meters, time-of-use
lines, a shared meter, 12 months of history, a logo) to a PDF, and with --png to the picture the README
shows (poppler's `pdftoppm`, first page, 80 dpi)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from meterbill.cli.common import EXIT_OK, InputError

if TYPE_CHECKING:
    import argparse

    from meterbill.cli.common import Commands

PNG_DPI = 80


def add_commands(commands: Commands) -> None:
    documents = commands.add_parser("documents", help="the documents customers receive")
    document_commands = documents.add_subparsers(dest="documents_command", required=True, metavar="COMMAND")
    sample = document_commands.add_parser("sample", help="render the sample invoice", description=__doc__)
    sample.add_argument("--out", default="sample-invoice.pdf", help="the PDF to write (sample-invoice.pdf)")
    sample.add_argument("--png", help="also write the first page as a PNG (needs pdftoppm)")
    sample.add_argument("--language", choices=("en", "de"), default="en", help="en (default) or de")
    sample.add_argument(
        "--lines", type=int, default=0, metavar="N", help="N more lines per meter (a longer invoice)"
    )
    sample.set_defaults(run=_sample)


def _sample(args: argparse.Namespace) -> int:
    from meterbill.documents.pdf import invoice_pdf
    from meterbill.documents.sample import sample_document, sample_logo

    if args.lines < 0:
        raise InputError(f"--lines: {args.lines} is negative")
    doc = sample_document(language=args.language, logo=sample_logo(), lines_per_meter=args.lines)
    out = Path(args.out)
    try:
        out.write_bytes(invoice_pdf(doc))
    except OSError as err:
        raise InputError(f"--out: cannot write {out}: {err.strerror or err}") from None
    print(f"wrote {out}", file=sys.stderr)
    if args.png:
        if shutil.which("pdftoppm") is None:
            raise InputError("--png: pdftoppm is not installed (Debian: apt-get install poppler-utils)")
        png = Path(args.png)
        stem = str(png.with_suffix("")) if png.suffix == ".png" else str(png)
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(PNG_DPI), "-singlefile", "-f", "1", "-l", "1", str(out), stem],
            check=True,
        )
        print(f"wrote {stem}.png", file=sys.stderr)
    return EXIT_OK
