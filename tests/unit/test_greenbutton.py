"""Reading Green Button (ESPI) feeds: units, times, meters, and how a bad or hostile feed is refused."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from meterbill.meterdata.greenbutton import quality_of_reading, read_greenbutton, validate_greenbutton
from meterbill.meterdata.importing import ImportFormatError, detect_format, read_all_or_nothing
from meterbill.meterdata.readings import IntervalReading

D = Decimal
FIXTURE = Path(__file__).parents[1] / "data" / "greenbutton" / "linked_feed.xml"
ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
NEW_YEAR_PST = 1735718400  # 2025-01-01T00:00-08:00 = 08:00 UTC


def feed(*entries: str) -> bytes:
    """A feed, one line each: line 1 the XML declaration, line 2 <feed>, then the entries' lines."""
    return "\n".join(
        ['<?xml version="1.0" encoding="UTF-8"?>', f'<feed xmlns="{ATOM}">', *entries, "</feed>"]
    ).encode()


def reading_type(uom: str = "72", power_of_ten: str = "0", extra: str = "") -> str:
    """An unlinked ReadingType entry on one line."""
    fields = f"{extra}<powerOfTenMultiplier>{power_of_ten}</powerOfTenMultiplier><uom>{uom}</uom>"
    return f'<entry><content><ReadingType xmlns="{ESPI}">{fields}</ReadingType></content></entry>'


def block(*readings: str) -> str:
    """An unlinked IntervalBlock entry: a line to open it, one a reading, one to close it."""
    opening = f'<entry><content><IntervalBlock xmlns="{ESPI}">'
    return "\n".join([opening, *readings, "</IntervalBlock></content></entry>"])


def reading(
    value: str = "1000", start: str = str(NEW_YEAR_PST), duration: str = "3600", quality: str = ""
) -> str:
    period = f"<timePeriod><duration>{duration}</duration><start>{start}</start></timePeriod>"
    quality_element = f"<ReadingQuality><quality>{quality}</quality></ReadingQuality>" if quality else ""
    return f"<IntervalReading>{quality_element}{period}<value>{value}</value></IntervalReading>"


def read(document: bytes, meter: str | None = "house") -> list[IntervalReading]:
    return list(read_greenbutton(io.BytesIO(document), "usage.xml", meter=meter))


def refusal(document: bytes, meter: str | None = "house") -> tuple[int, str]:
    with pytest.raises(ImportFormatError) as caught:
        read(document, meter)
    assert caught.value.source == "usage.xml"
    return caught.value.line, caught.value.reason


@pytest.fixture(scope="module")
def linked() -> list[IntervalReading]:
    with FIXTURE.open("rb") as stream:
        return list(read_greenbutton(stream, FIXTURE.name))


# A linked feed: the hand-made linked_feed.xml


def test_each_meter_reading_of_a_linked_feed_is_a_meter_named_usage_point_dash_meter_reading(
    linked: list[IntervalReading],
) -> None:
    assert Counter((r.meter, r.unit) for r in linked) == {("1-1", "kWh"): 3, ("1-2", "kWh"): 2}


def test_wh_values_are_scaled_by_their_power_of_ten_into_exact_kwh(linked: list[IntervalReading]) -> None:
    consumption = [r.value for r in linked if r.meter == "1-1"]  # uom 72 (Wh), powerOfTenMultiplier 0
    export = [r.value for r in linked if r.meter == "1-2"]  # uom 72 (Wh), powerOfTenMultiplier -3: mWh
    assert consumption == [D(1200) / 1000, D(800) / 1000, D(1000) / 1000]
    assert export == [D(250000) / 1000 / 1000, D(500000) / 1000 / 1000]


def test_timestamps_are_the_utc_instants_and_local_time_parameters_change_none(
    linked: list[IntervalReading],
) -> None:
    first = linked[0]
    assert (first.start, first.end) == (
        datetime(2025, 1, 1, 8, tzinfo=UTC),
        datetime(2025, 1, 1, 9, tzinfo=UTC),
    )
    assert {r.start.utcoffset() for r in linked} == {timedelta(0)}  # the feed's tzOffset is -28800


def test_reading_quality_becomes_a_quality_letter(linked: list[IntervalReading]) -> None:
    assert [r.quality for r in linked if r.meter == "1-1"] == ["A", "E", "A"]  # none, 8 (estimated), 19


def test_espi_quality_codes_map_to_actual_estimated_or_substituted() -> None:
    assert {code: quality_of_reading(code) for code in (0, 7, 8, 9, 10, 11, 12, 14, 15, 17, 19)} == {
        0: "A", 7: "S", 8: "E", 9: "E", 10: "A", 11: "E", 12: "E", 14: "A", 15: "E", 17: "A", 19: "A",
    }  # fmt: skip


def test_a_block_before_its_reading_type_and_links_after_content_are_read(
    linked: list[IntervalReading],
) -> None:
    # The fixture's second IntervalBlock precedes its MeterReading and ReadingType, and its links follow it.
    export = [r for r in linked if r.meter == "1-2"]
    assert [r.start for r in export] == [
        datetime(2025, 1, 1, 15, tzinfo=UTC),
        datetime(2025, 1, 1, 16, tzinfo=UTC),
    ]


def test_validating_counts_and_totals_what_a_second_read_then_yields() -> None:
    with FIXTURE.open("rb") as stream:
        summary = validate_greenbutton(stream, FIXTURE.name)
    assert summary.readings == 5
    assert summary.totals == {
        ("1-1", "kWh"): D("1.2") + D("0.8") + D("1.0"),
        ("1-2", "kWh"): D("0.25") + D("0.5"),
    }
    assert (summary.first_start, summary.last_end) == (
        datetime(2025, 1, 1, 8, tzinfo=UTC),
        datetime(2025, 1, 1, 17, tzinfo=UTC),
    )


# An unlinked feed, as some utilities export: a meter id is given


def test_an_unlinked_feed_is_read_as_the_given_meter() -> None:
    document = feed(reading_type(), block(reading("385"), reading("365", str(NEW_YEAR_PST + 3600))))
    readings = read(document, meter="house")
    assert [(r.meter, r.value, r.unit) for r in readings] == [
        ("house", D("0.385"), "kWh"),
        ("house", D("0.365"), "kWh"),
    ]


@pytest.mark.parametrize(
    ("uom", "power_of_ten", "value", "expected"),
    [
        ("72", "3", "2", (D(2000) / 1000, "kWh")),  # kWh written as Wh with powerOfTenMultiplier 3
        ("73", "0", "500", (D(500) / 1000, "kVArh")),
        ("71", "0", "500", (D(500) / 1000, "kVAh")),
        ("169", "-2", "123", (D(123) / 100, "therm")),
        ("42", "-3", "1500", (D(1500) / 1000, "m3")),
        ("119", "2", "7", (D(700), "ft3")),
        ("128", "0", "40", (D(40), "gal")),
    ],
)
def test_energy_is_stored_in_kilo_units_and_gas_and_water_in_their_own(
    uom: str, power_of_ten: str, value: str, expected: tuple[Decimal, str]
) -> None:
    (stored,) = read(feed(reading_type(uom, power_of_ten), block(reading(value))))
    assert (stored.value, stored.unit) == expected


def test_the_worst_of_several_reading_qualities_wins() -> None:
    two_qualities = "<IntervalReading><ReadingQuality><quality>19</quality></ReadingQuality><ReadingQuality>"
    two_qualities += (
        f"<quality>9</quality></ReadingQuality><timePeriod><duration>3600</duration><start>{NEW_YEAR_PST}"
    )
    two_qualities += "</start></timePeriod><value>1</value></IntervalReading>"
    assert [r.quality for r in read(feed(reading_type(), block(two_qualities)))] == ["E"]


def test_readings_are_yielded_while_the_file_is_still_being_read() -> None:
    readings = [reading(str(n), str(NEW_YEAR_PST + 3600 * n)) for n in range(5000)]
    stream = io.BytesIO(feed(reading_type(), block(*readings)))
    streamed = read_greenbutton(stream, "usage.xml", meter="house")
    next(streamed)
    assert stream.tell() < len(stream.getvalue()) / 4
    assert len(list(streamed)) == 4999


def test_progress_is_reported_once_at_the_end_of_a_small_feed() -> None:
    document = feed(reading_type(), block(reading()))
    calls: list[tuple[int, int | None]] = []
    progress = lambda done, total: calls.append((done, total))  # noqa: E731
    list(read_greenbutton(io.BytesIO(document), "usage.xml", meter="house", progress=progress))
    assert calls == [(len(document), None)]


def test_the_format_is_detected_from_the_atom_or_espi_namespace() -> None:
    assert detect_format(FIXTURE.read_bytes()[:4096]) == "greenbutton"
    assert detect_format(f'<IntervalBlock xmlns="{ESPI}">'.encode()) == "greenbutton"
    with pytest.raises(ImportFormatError) as caught:
        detect_format(b'<?xml version="1.0"?>\n<rss version="2.0">', "news.xml")
    assert str(caught.value) == (
        "news.xml:1: XML, but not a Green Button feed: no Atom or ESPI (http://naesb.org/espi) namespace"
    )


# Refusals: the line at fault and the reason


def test_an_unknown_uom_is_refused_naming_the_field_and_the_known_units() -> None:
    assert refusal(feed(reading_type(uom="38"), block(reading()))) == (
        3,
        "ReadingType uom 38: not a unit meterbill imports; known: 72 (Wh), 73 (VArh), 71 (VAh), 169 (therm), "
        "42 (m3), 119 (ft3), 128 (US gal)",
    )


def test_a_reading_type_without_uom_is_refused() -> None:
    no_uom = f'<entry><content><ReadingType xmlns="{ESPI}"><kind>12</kind></ReadingType></content></entry>'
    assert refusal(feed(no_uom, block(reading()))) == (
        3,
        "the ReadingType has no uom, so its values have no unit",
    )


def test_a_malformed_power_of_ten_is_refused() -> None:
    assert refusal(feed(reading_type(power_of_ten="k"), block(reading()))) == (
        3,
        "ReadingType powerOfTenMultiplier 'k' is not a power of ten from -12 to 12",
    )


def test_cumulative_register_reads_are_refused() -> None:
    register = reading_type(extra="<accumulationBehaviour>1</accumulationBehaviour>")
    assert refusal(feed(register, block(reading()))) == (
        3,
        "ReadingType accumulationBehaviour 1 (bulkQuantity): register reads, not usage",
    )


@pytest.mark.parametrize(
    ("interval_reading", "reason"),
    [
        (reading(value="12a"), "value '12a' is not a number"),
        (reading(value="1e3"), "value '1e3' is not a number"),
        (reading(value=""), "value '' is not a number"),
        (
            reading(start="1721154384.66136"),
            "timePeriod start '1721154384.66136' is not whole seconds since 1970-01-01 UTC",
        ),
        (reading(duration="0"), "timePeriod duration '0' is not a number of seconds up to a year"),
        (
            "<IntervalReading><value>5</value></IntervalReading>",
            "the IntervalReading has no timePeriod start and duration",
        ),
        (
            f"<IntervalReading><timePeriod><duration>60</duration><start>{NEW_YEAR_PST}</start></timePeriod>"
            "</IntervalReading>",
            "the IntervalReading has no value",
        ),
    ],
)
def test_a_malformed_interval_reading_is_refused_at_its_line(interval_reading: str, reason: str) -> None:
    assert refusal(feed(reading_type(), block(reading(), interval_reading))) == (6, reason)


def test_a_feed_without_a_reading_type_is_refused_at_its_first_reading() -> None:
    assert refusal(feed(block(reading(), reading()))) == (
        4,
        "no ReadingType in the feed says what unit the values are in",
    )


def test_an_unlinked_feed_with_nothing_to_name_its_meter_and_no_meter_id_is_refused() -> None:
    # Issue 8 (item 10): an unlinked feed is named after its UsagePoint entry or its <id> (see
    # test_meterdata_edges.py); only one with neither still needs the meter id.
    assert refusal(feed(reading_type(), block(reading())), meter=None) == (
        4,
        "the IntervalBlock's entry has no link to its MeterReading (rel self or up, "
        "…/UsagePoint/<id>/MeterReading/<id>/IntervalBlock), and neither a UsagePoint entry nor the feed's "
        "<id> names its meter; give the meter id to import an unlinked feed",
    )


def test_a_feed_of_two_series_cannot_be_read_as_one_meter() -> None:
    assert refusal(feed(reading_type(), block(reading()), reading_type(power_of_ten="3"))) == (
        7,
        "a second ReadingType (the first is on line 3): a feed with several series cannot all be meter "
        "'house'; import it without a meter id",
    )


def test_a_linked_meter_reading_whose_reading_type_is_missing_is_refused() -> None:
    document = FIXTURE.read_bytes().replace(b"resource/ReadingType/2", b"resource/ReadingType/20", 1)
    with pytest.raises(ImportFormatError) as caught:
        list(read_greenbutton(io.BytesIO(document), "usage.xml"))
    assert (caught.value.line, caught.value.reason) == (
        86,  # the first IntervalReading of MeterReading 2
        "UsagePoint/1/MeterReading/2 refers to ReadingType/20, which is not in the feed",
    )


def test_a_root_other_than_an_atom_feed_is_refused() -> None:
    assert refusal(b'<?xml version="1.0"?>\n<rss version="2.0"></rss>') == (
        2,
        "the root element is <rss>; a Green Button feed is an Atom <feed>",
    )


def test_xml_that_is_not_well_formed_is_refused_at_the_fault() -> None:
    truncated = feed(reading_type(), block(reading())).replace(b"</IntervalBlock>", b"</IntervalBlok>")
    assert refusal(truncated) == (6, "not well-formed XML: mismatched tag (column 3)")


# Refusals: hostile XML


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE feed [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title></feed>
"""


def test_entity_expansion_is_refused_at_the_doctype_before_any_entity_is_declared() -> None:
    assert refusal(BILLION_LAUGHS) == (
        2,
        "a DOCTYPE declaration: refused, it could declare entities (entity expansion)",
    )


def test_an_external_entity_is_refused_at_the_doctype() -> None:
    doctype = b'<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    xxe = b'<?xml version="1.0"?>\n' + doctype + b"\n<feed>&xxe;</feed>"
    assert refusal(xxe)[0] == 2


def test_an_undeclared_entity_is_not_well_formed() -> None:
    assert refusal(feed("<title>&xxe;</title>")) == (3, "not well-formed XML: undefined entity (column 8)")


def test_all_or_nothing_yields_nothing_from_a_feed_that_turns_bad() -> None:
    document = feed(reading_type(), block(reading(), reading(value="oops")))
    checked: list[IntervalReading] = []
    with pytest.raises(ImportFormatError):
        checked.extend(
            read_all_or_nothing(lambda: read_greenbutton(io.BytesIO(document), "usage.xml", meter="m"))
        )
    assert checked == []
