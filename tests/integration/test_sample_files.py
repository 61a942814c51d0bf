"""Real sample files, checked against totals computed independently of meterbill's readers.

NEM12: the example files AEMO published for the MDFF specification, as shipped in the ``nemreader`` source
distribution; ``nemreader`` itself is the reference parser, and every reading must agree. Green Button: a
year of SDG&E hourly data shipped in the ``jendobson-greenbutton`` source distribution, summed here with a few
lines of ElementTree. The distributions are downloaded once with pip into ``.cache/samples``; without a
network the tests are skipped.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ElementTree
import zipfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from meterbill.meterdata.greenbutton import read_greenbutton
from meterbill.meterdata.importing import ImportFormatError, detect_format
from meterbill.meterdata.nem12 import UNITS as NEM12_UNITS
from meterbill.meterdata.nem12 import read_nem12

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "samples"
NEMREADER_SDIST = "nemreader==0.9.2"
GREENBUTTON_SDIST = "jendobson-greenbutton==0.0.1"
SDGE_YEAR = "greenbutton/sample_data/SDGEElectricIntervalDataFeb12011toJan312012.xml"
ESPI = "{http://naesb.org/espi}"
UNITS = ", ".join(NEM12_UNITS)  # the spec's list, checked word for word in tests/unit/test_nem12.py
NO_HEADER = "the file must start with a 100 header record (100,NEM12,...), got '200,VABD000163,E1Q1,1,E1,N1,"
NO_HEADER += "METSER123,"

# The example files meterbill refuses, and why: each is broken in the way nemreader's own tests expect.
REFUSED = {
    "Example_different_intervals.zip": (6, f"unknown unit of measure ''; NEM12 units are {UNITS}"),
    "Example_NEM12_different_interval_length.csv": (
        6,
        f"unknown unit of measure ''; NEM12 units are {UNITS}",
    ),
    "NEM12#Scenario10#ETSAMDP#NEMMCO.zip": (
        27,
        "expected 48 interval values (30-minute intervals, 200 record on line 25), "
        "got 1 and no QualityMethod",
    ),
    "Example_NEM12_15min_200_30min_300.csv": (
        3,
        "expected 96 interval values (15-minute intervals, 200 record on line 2), got 48",
    ),
    "Example_NEM12_15min_200_30min_400.csv": (
        5,
        "the 400 records cover intervals 1-48 of 96; every interval needs one",
    ),
    "Example_NEM12_30min_200_15min_300.csv": (
        3,
        "expected 48 interval values (30-minute intervals, 200 record on line 2), got 96",
    ),
    "Example_NEM12_30min_200_15min_400.csv": (
        3,
        "expected 48 interval values (30-minute intervals, 200 record on line 2), got 96",
    ),
    "Example_NEM12_incomplete_interval.csv": (
        3,
        "expected 48 interval values (30-minute intervals, 200 record on line 2), got 0",
    ),
    "Example_NEM12_missing_header.csv": (2, NO_HEADER + "kW'"),
    "Example_NEM12_powercor.csv": (2, NO_HEADER + "KW'"),
    "Example_NEM12_powercor.csv.zip": (2, NO_HEADER + "KW'"),
    "Example_NEM12_powercor_missing_fields.csv": (2, NO_HEADER + "KW'"),
    "Example_empty_file.csv": (1, "empty file: a NEM12 file starts with a 100 header record"),
    "Example_NEM12_empty.csv": (
        2,
        "no 200 record: the file has a header and an end but no NMI channel, so no interval data",
    ),
}

Readings = dict[str, list[tuple[object, ...]]]


def sdist(requirement: str) -> Path:
    """The source distribution of ``requirement`` (``name==version``), downloaded once into the cache."""
    name, version = requirement.split("==")
    pattern = f"{name.replace('-', '?')}-{version}.tar.gz"
    cached = sorted(CACHE.glob(pattern))
    if cached:
        return cached[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", requirement]
    command += ["--dest", str(CACHE), "--timeout", "15", "--retries", "1", "--quiet"]
    environment = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=300, env=environment, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip took too long to download {requirement}")
    cached = sorted(CACHE.glob(pattern))
    if done.returncode != 0 or not cached:
        last_words = (done.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"pip could not download {requirement} (no network?): {last_words}")
    return cached[0]


@pytest.fixture(scope="module")
def nem12_examples() -> dict[str, str]:
    """The NEM12 example files of nemreader's sdist, by file name: zipped ones unzipped."""
    examples: dict[str, str] = {}
    with tarfile.open(sdist(NEMREADER_SDIST)) as archive:
        for member in archive.getmembers():
            path = Path(member.name)
            if not member.isfile() or "examples" not in path.parts or "nem13" in path.name.lower():
                continue
            data = archive.extractfile(member).read()  # type: ignore[union-attr]  # a file member
            if path.suffix.lower() == ".zip":
                with zipfile.ZipFile(io.BytesIO(data)) as inner:
                    (only,) = inner.namelist()
                    examples[path.name] = inner.read(only).decode("utf-8")
            elif path.suffix.lower() == ".csv":
                examples[path.name] = data.decode("utf-8")
    return examples


def meterbill_readings(text: str, source: str) -> Readings:
    readings: Readings = defaultdict(list)
    for r in read_nem12(io.StringIO(text, newline=""), source):
        method = f"{r.quality}{r.method or ''}"
        readings[r.meter].append(
            (r.start.replace(tzinfo=None), r.end.replace(tzinfo=None), r.value, method, r.reason)
        )
    return readings


def nemreader_readings(text: str, source: str) -> Readings:
    """The same, by nemreader: NEM time as naive datetimes, values as floats (made exact via their repr)."""
    nemreader = pytest.importorskip("nemreader")
    logging.getLogger("nemreader").setLevel(logging.CRITICAL)
    parsed = nemreader.NEMFile(source, strict=True).parse_nem_file(text.splitlines(), file_name=source)
    readings: Readings = defaultdict(list)
    for nmi, channels in parsed.readings.items():
        for suffix, channel_readings in channels.items():
            for r in channel_readings:
                reason = (f"{r.event_code}: {r.event_desc}" if r.event_desc else r.event_code) or None
                value = Decimal(repr(r.read_value))
                readings[f"{nmi}-{suffix}"].append((r.t_start, r.t_end, value, r.quality_method, reason))
    return readings


def test_every_valid_aemo_example_reads_as_nemreader_reads_it(nem12_examples: dict[str, str]) -> None:
    compared = 0
    for name, text in sorted(nem12_examples.items()):
        if name in REFUSED:
            continue
        assert detect_format(text[:4096].encode()) == "nem12"
        ours, reference = meterbill_readings(text, name), nemreader_readings(text, name)
        totals = {meter: sum(r[2] for r in readings) for meter, readings in ours.items()}  # type: ignore[misc]
        reference_totals = {meter: sum(r[2] for r in readings) for meter, readings in reference.items()}  # type: ignore[misc]
        assert totals == reference_totals, name  # per NMI channel, exactly
        assert ours == reference, name  # and reading for reading: times, values, quality, reason
        compared += 1
    assert compared >= 90  # nemreader 0.9.2 ships 97 NEM12 examples; 14 are broken on purpose


def test_the_broken_examples_are_refused_with_the_line_and_the_reason(nem12_examples: dict[str, str]) -> None:
    refused = {}
    for name in REFUSED:
        with pytest.raises(ImportFormatError) as caught:
            meterbill_readings(nem12_examples[name], name)
        refused[name] = (caught.value.line, caught.value.reason)
    assert refused == REFUSED


def test_a_year_of_sdge_green_button_data_totals_what_its_raw_values_add_up_to() -> None:
    with tarfile.open(sdist(GREENBUTTON_SDIST)) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(SDGE_YEAR))
        document = archive.extractfile(member).read()  # type: ignore[union-attr]  # a file member

    # Independently: each IntervalReading's raw value in Wh (its ReadingType: uom 72, powerOfTenMultiplier 0).
    root = ElementTree.fromstring(document)
    (reading_type,) = root.iter(f"{ESPI}ReadingType")
    assert (reading_type.findtext(f"{ESPI}uom"), reading_type.findtext(f"{ESPI}powerOfTenMultiplier")) == (
        "72",
        "0",
    )
    raw = [
        (int(r.findtext(f"{ESPI}timePeriod/{ESPI}start", "")), int(r.findtext(f"{ESPI}value", "")))
        for r in root.iter(f"{ESPI}IntervalReading")
    ]
    raw_wh = sum(value for _, value in raw)

    assert detect_format(document[:4096]) == "greenbutton"
    readings = list(read_greenbutton(io.BytesIO(document), member.name, meter="sdge-home"))
    assert len(readings) == len(raw) == 362 * 24 + 23 + 16  # the spring-forward day has 23 hours, one day 16
    assert sum(r.value for r in readings) * 1000 == raw_wh == 5_089_595
    assert {r.unit for r in readings} == {"kWh"}
    assert [int(r.start.timestamp()) for r in readings] == [start for start, _ in raw]
    # SDG&E's own usage summary in the same export says the same.
    summary = root.find(f".//{ESPI}currentBillingPeriodOverAllConsumption/{ESPI}value")
    assert summary is not None and int(summary.text or "") == raw_wh

    # Without a meter id: the feed has no links and no UsagePoint entry, so its one series is named after the
    # feed's <id>, the same on every read.
    unnamed = list(read_greenbutton(io.BytesIO(document), member.name))
    assert root.findtext("{http://www.w3.org/2005/Atom}id") == "urn:uuid:335b9e89-8868-472a-8f10-08894e8147fb"
    assert {r.meter for r in unnamed} == {"urn:uuid:335b9e89-8868-472a-8f10-08894e8147fb"}
    assert [(r.start, r.end, r.value, r.unit) for r in unnamed] == [
        (r.start, r.end, r.value, r.unit) for r in readings
    ]
