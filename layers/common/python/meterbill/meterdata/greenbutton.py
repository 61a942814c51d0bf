"""Green Button (NAESB REQ.21 ESPI) usage feeds, read as a stream of interval readings.

A feed is Atom XML whose entries carry ESPI resources::

    <feed xmlns="http://www.w3.org/2005/Atom">
      <entry><link rel="self" href=".../ReadingType/07"/>
        <content><ReadingType xmlns="http://naesb.org/espi">
          <powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom></ReadingType></content></entry>
      <entry><link rel="self" href=".../UsagePoint/1/MeterReading/1"/>
        <link rel="related" href=".../ReadingType/07"/>
        <content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>
      <entry><link rel="up" href=".../UsagePoint/1/MeterReading/1/IntervalBlock"/>
        <content><IntervalBlock xmlns="http://naesb.org/espi">
          <IntervalReading><timePeriod><duration>3600</duration><start>1296547200</start></timePeriod>
            <value>385</value></IntervalReading> ...

Each IntervalReading becomes one :class:`IntervalReading`: ``start`` and ``end`` from its timePeriod, the
value times ``10**powerOfTenMultiplier`` of its ReadingType, converted so energy is in kWh (``uom`` 72, Wh),
kVArh (73) or kVAh (71); gas and water keep their unit: therm (169), m3 (42), ft3 (119), gal (128, US
gallons). Any other ``uom`` (power, voltage, ...) is refused, naming the field. Values keep their sign (a
net-metered feed may export). An IntervalReading's ReadingQuality maps to a quality letter
(:func:`quality_of_reading`); without one it is ``A``.

Times: ESPI timestamps are seconds since 1970 UTC, and that is what they become: aware datetimes in UTC. The
feed's LocalTimeParameters (an offset and DST rules) only say how a person there reads the clock; they change
no instant, so they are left to presentation, which knows the site's IANA zone anyway.

Meters: given ``meter``, every reading is that meter's, and the feed must hold one ReadingType (one series);
without it, the meter is ``<UsagePoint id>-<MeterReading id>`` from the entries' Atom links (``1-1`` above),
which tie each IntervalBlock to its MeterReading and that to its ReadingType, in any order in the file.
A feed without links (SDG&E's own export, for one) is one series: its IntervalBlocks take the feed's one
ReadingType and are named after the feed's one UsagePoint entry (its Atom ``<title>`` if that has 1 to
64 characters, else its ``<id>``, else the id in its self link) or, without a UsagePoint entry, after the
feed's ``<id>``. The name comes from the file alone, so every read of the file gives the same one; a second
UsagePoint or ReadingType makes the feed ambiguous and is refused (give ``meter``). Until its name is known
(a feed without a UsagePoint entry: at the end of the file), such a series waits, compactly, like a block
before its ReadingType.

Streaming: the reader drives expat directly, a chunk at a time, and keeps no tree: readings are yielded once
their ReadingType is known. Where the file puts an IntervalBlock before the entries it depends on, its
readings wait, compactly, until those arrive. Any DOCTYPE is refused, so no entity can be declared: that
closes entity-expansion ("billion laughs") and external-entity attacks the way defusedxml's ``forbid_dtd``
does, without needing defusedxml (not a runtime dependency), and expat gives the line of every fault.
The first fault raises :class:`ImportFormatError` (file, line, reason); for all-or-nothing see
:func:`meterbill.meterdata.importing.read_all_or_nothing`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import IO, NamedTuple
from xml.parsers import expat

from meterbill.meterdata.importing import (
    ImportFormatError,
    ImportSummary,
    ProgressCallback,
    ProgressMeter,
    summarize,
)
from meterbill.meterdata.readings import QUALITY_RANK, IntervalReading, Quality

CHUNK_BYTES = 1 << 16
MAX_DEPTH = 64
MAX_TEXT = 256


@dataclass(frozen=True, slots=True)
class EspiUnit:
    """An ESPI ``uom`` code: its name in the spec, the unit meterbill stores, and the power of ten between."""

    code: int
    name: str
    unit: str
    exponent: int  # stored value = feed value * 10**(powerOfTenMultiplier + exponent)


UNITS: dict[int, EspiUnit] = {
    unit.code: unit
    for unit in (
        EspiUnit(72, "Wh", "kWh", -3),
        EspiUnit(73, "VArh", "kVArh", -3),
        EspiUnit(71, "VAh", "kVAh", -3),
        EspiUnit(169, "therm", "therm", 0),
        EspiUnit(42, "m3", "m3", 0),
        EspiUnit(119, "ft3", "ft3", 0),
        EspiUnit(128, "US gal", "gal", 0),
    )
}
# ESPI AccumulationKind values that are register reads, not usage in an interval.
CUMULATIVE_ACCUMULATION = {1: "bulkQuantity", 2: "continuousCumulative", 3: "cumulative"}
# ESPI QualityOfReading -> NEM12 quality: estimates (8 reference day, 9 interpolated, 11 calculated,
# 12 forecast, 15 weather-adjusted) are E; 7, replaced by a person, is S; the rest (0 valid, 14 raw,
# 17-19 validated, ...) is data as measured, A.
ESTIMATED_QUALITY_CODES = frozenset({8, 9, 11, 12, 15})
SUBSTITUTED_QUALITY_CODES = frozenset({7})

_TEXT_FIELDS = frozenset(
    {"uom", "powerOfTenMultiplier", "accumulationBehaviour", "start", "duration", "value", "quality"}
)
_BLOCK_LINK = re.compile(r"UsagePoint/([^/?#]+)/MeterReading/([^/?#]+)/IntervalBlock(?:[/?#]|$)")
_METER_READING_LINK = re.compile(r"UsagePoint/([^/?#]+)/MeterReading/([^/?#]+)/?$")
_READING_TYPE_LINK = re.compile(r"(?:^|/)ReadingType/([^/?#]+)/?$")
_USAGE_POINT_LINK = re.compile(r"(?:^|/)UsagePoint/([^/?#]+)/?$")
# An entry's id and title (and the feed's id): what names the meter of an unlinked feed.
_ATOM_FIELDS = frozenset({"id", "title"})
_LONGEST_TITLE = 64  # a longer title is prose, not a name: the id names the meter then
_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_SECOND = 253_402_300_799 - 366 * 86_400  # so that start + duration stays before the year 10000
_LONGEST_PERIOD = 366 * 86_400


@dataclass(frozen=True, slots=True)
class ReadingType:
    """What an ESPI ReadingType says about the values of its IntervalReadings."""

    unit: EspiUnit
    power_of_ten: int
    line: int

    def stored(self, value: Decimal) -> Decimal:
        return value.scaleb(self.power_of_ten + self.unit.exponent)


class _Raw(NamedTuple):
    """An IntervalReading as read, before its ReadingType (and so its unit) is known."""

    start: int
    duration: int
    value: Decimal
    quality: Quality
    line: int


@dataclass(slots=True)
class _Entry:
    """What an Atom entry has shown so far: its links and the ESPI resource in its content."""

    links: list[tuple[str, str]] = field(default_factory=list)  # (rel, href)
    block_key: tuple[str, str] | None = None  # (UsagePoint id, MeterReading id) of its IntervalBlocks
    reading_type: ReadingType | None = None
    is_meter_reading: bool = False
    usage_point_line: int = 0  # the line of its UsagePoint resource, if it holds one
    atom: dict[str, str | None] = field(default_factory=dict)  # id, title (None: too long to be a name)
    waiting: list[_Raw] = field(default_factory=list)  # readings before the entry's links were seen
    first_block_line: int = 0


def read_greenbutton(
    stream: IO[bytes],
    source: str,
    *,
    meter: str | None = None,
    progress: ProgressCallback | None = None,
    total_bytes: int | None = None,
) -> Iterator[IntervalReading]:
    """The interval readings of a Green Button feed, as it is read.

    ``stream`` is a binary file (``open(path, "rb")``); ``source`` names it in errors; ``meter``, if given, is
    the meter every reading belongs to. ``progress(bytes_read, total_bytes)`` is called about every MiB or
    second.
    """
    feed = _FeedReader(source, meter)
    progress_meter = ProgressMeter(progress, total_bytes)
    while chunk := stream.read(CHUNK_BYTES):
        feed.feed(chunk)
        progress_meter.advance(len(chunk))
        yield from feed.take()
    feed.close()
    yield from feed.take()
    progress_meter.finish()


def validate_greenbutton(
    stream: IO[bytes],
    source: str,
    *,
    meter: str | None = None,
    progress: ProgressCallback | None = None,
    total_bytes: int | None = None,
) -> ImportSummary:
    """Check a whole feed, keeping only counts and totals: the first pass of an all-or-nothing import."""
    readings = read_greenbutton(stream, source, meter=meter, progress=progress, total_bytes=total_bytes)
    return summarize(readings)


def quality_of_reading(code: int) -> Quality:
    """The NEM12 quality letter of an ESPI QualityOfReading code."""
    if code in ESTIMATED_QUALITY_CODES:
        return "E"
    if code in SUBSTITUTED_QUALITY_CODES:
        return "S"
    return "A"


class _FeedReader:
    """The expat handlers and what they have learnt of the feed so far."""

    def __init__(self, source: str, meter: str | None) -> None:
        self.source = source
        self.meter = meter
        self.ready: list[IntervalReading] = []
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._doctype
        parser.EntityDeclHandler = self._entity
        parser.ExternalEntityRefHandler = self._external_entity
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        self.parser = parser  # CharacterDataHandler is set only inside the elements whose text is read
        self.path: list[str] = []
        self.text: list[str] | None = None
        self.text_length = 0
        self.entry: _Entry | None = None
        self.fields: dict[str, tuple[str, int]] = {}  # ReadingType leaves: name -> (text, line)
        self.reading: dict[str, str] = {}  # IntervalReading leaves
        self.reading_line = 0
        self.reading_quality: Quality = "A"
        # meter given: the one ReadingType, and readings that came before it
        self.only_reading_type: ReadingType | None = None
        self.meter_reading: tuple[str, str] | None = None
        self.before_reading_type: list[_Raw] = []
        # meter from links
        self.reading_types: dict[str, ReadingType] = {}  # "07" -> ReadingType
        self.reading_type_of: dict[tuple[str, str], str] = {}  # (usage point, meter reading) -> "07"
        self.parked: dict[tuple[str, str], list[_Raw]] = {}  # readings whose ReadingType is not known yet
        # meter from the names in an unlinked feed
        self.feed_id: str | None = None
        self.usage_points: list[tuple[str | None, int]] = []  # (name, line) of each UsagePoint entry
        self.all_reading_types: list[ReadingType] = []
        self.unlinked: list[_Raw] = []  # unlinked readings whose meter or unit is not known yet
        self.unlinked_line = 0  # the first unlinked IntervalBlock

    # feeding

    def feed(self, chunk: bytes) -> None:
        try:
            self.parser.Parse(chunk, False)
        except expat.ExpatError as err:
            raise self._not_xml(err) from None

    def close(self) -> None:
        try:
            self.parser.Parse(b"", True)
        except expat.ExpatError as err:
            raise self._not_xml(err) from None
        if self.meter is not None and self.before_reading_type:
            first = self.before_reading_type[0]
            raise self.error(first.line, "no ReadingType in the feed says what unit the values are in")
        for key, raws in self.parked.items():
            raise self.error(raws[0].line, self._unresolved(key))
        if self.unlinked_line:
            self._release_unlinked(at_end=True)

    def take(self) -> list[IntervalReading]:
        ready, self.ready = self.ready, []
        return ready

    def error(self, line: int, reason: str) -> ImportFormatError:
        return ImportFormatError(self.source, line, reason)

    def _not_xml(self, err: expat.ExpatError) -> ImportFormatError:
        return self.error(
            err.lineno, f"not well-formed XML: {expat.ErrorString(err.code)} (column {err.offset + 1})"
        )

    @property
    def line(self) -> int:
        return self.parser.CurrentLineNumber

    # refusals

    def _doctype(
        self, name: str, system_id: str | None, public_id: str | None, internal_subset: bool
    ) -> None:
        raise self.error(
            self.line, "a DOCTYPE declaration: refused, it could declare entities (entity expansion)"
        )

    def _entity(self, name: str, *details: object) -> None:
        raise self.error(self.line, f"an ENTITY declaration ({name!r}): refused (entity expansion)")

    def _external_entity(self, *details: object) -> int:
        raise self.error(self.line, "an external entity reference: refused")

    # elements

    def _start(self, qualified: str, attributes: dict[str, str]) -> None:
        name = qualified.rpartition(" ")[2]
        parent = self.path[-1] if self.path else None
        self.path.append(name)
        if len(self.path) > MAX_DEPTH:
            raise self.error(self.line, f"elements nested deeper than {MAX_DEPTH}")
        if parent is None and name not in ("feed", "entry"):
            raise self.error(
                self.line, f"the root element is <{name}>; a Green Button feed is an Atom <feed>"
            )
        if name in _TEXT_FIELDS or (name in _ATOM_FIELDS and parent in ("entry", "feed")):
            self.text, self.text_length = [], 0
            self.parser.CharacterDataHandler = self._text
        elif self.text is not None:  # an element inside a text field: its text is not a field's
            self.text = None
            self.parser.CharacterDataHandler = None
        if name == "entry":
            self.entry = _Entry()
        elif name == "link" and parent == "entry" and self.entry is not None:
            rel, href = attributes.get("rel", ""), attributes.get("href", "")
            self.entry.links.append((rel, href))
            if rel in ("self", "up") and (found := _BLOCK_LINK.search(href)):
                self.entry.block_key = (found.group(1), found.group(2))
        elif name == "ReadingType":
            self.fields = {}
        elif name == "MeterReading" and self.entry is not None:
            self.entry.is_meter_reading = True
        elif name == "UsagePoint" and parent == "content" and self.entry is not None:
            self.entry.usage_point_line = self.line
        elif name == "IntervalBlock" and self.entry is not None and not self.entry.first_block_line:
            self.entry.first_block_line = self.line
        elif name == "IntervalReading":
            self.reading, self.reading_line, self.reading_quality = {}, self.line, "A"

    def _text(self, data: str) -> None:
        if self.text is not None:
            self.text_length += len(data)
            if self.text_length > MAX_TEXT:
                if self.path[-1] in _ATOM_FIELDS:  # a long Atom title is prose, not a fault
                    return
                raise self.error(self.line, f"<{self.path[-1]}> holds more than {MAX_TEXT} characters")
            self.text.append(data)

    def _end(self, qualified: str) -> None:
        name = self.path.pop()
        parent = self.path[-1] if self.path else None
        if self.text is not None:
            text = "".join(self.text).strip()
            self.text = None
            self.parser.CharacterDataHandler = None
            if name in _ATOM_FIELDS and parent in ("entry", "feed"):
                self._atom_field(name, parent, " ".join(text.split()))
            elif parent == "ReadingType":
                self.fields[name] = (text, self.line)
            elif (parent == "timePeriod" and self.path[-2:-1] == ["IntervalReading"]) or (
                parent == "IntervalReading" and name == "value"
            ):
                self.reading[name] = text
            elif parent == "ReadingQuality" and name == "quality" and self.path[-2:-1] == ["IntervalReading"]:
                self._quality(text)
        elif name == "IntervalReading":
            self._interval_reading()
        elif name == "ReadingType":
            self._reading_type()
        elif name == "entry" and self.entry is not None:
            self._entry_end(self.entry)
            self.entry = None

    # resources

    def _reading_type(self) -> None:
        uom_text, uom_line = self.fields.get("uom", ("", self.line))
        if not uom_text:
            raise self.error(self.line, "the ReadingType has no uom, so its values have no unit")
        if not _INTEGER.fullmatch(uom_text):
            raise self.error(uom_line, f"ReadingType uom {uom_text!r} is not a number")
        unit = UNITS.get(int(uom_text))
        if unit is None:
            known = ", ".join(f"{code} ({unit.name})" for code, unit in UNITS.items())
            raise self.error(
                uom_line, f"ReadingType uom {uom_text}: not a unit meterbill imports; known: {known}"
            )
        power_text, power_line = self.fields.get("powerOfTenMultiplier", ("0", self.line))
        if not _INTEGER.fullmatch(power_text or "0") or not -12 <= int(power_text or "0") <= 12:
            reason = f"ReadingType powerOfTenMultiplier {power_text!r} is not a power of ten from -12 to 12"
            raise self.error(power_line, reason)
        accumulation_text, accumulation_line = self.fields.get("accumulationBehaviour", ("", self.line))
        if accumulation_text.isdigit() and int(accumulation_text) in CUMULATIVE_ACCUMULATION:
            kind = CUMULATIVE_ACCUMULATION[int(accumulation_text)]
            reason = (
                f"ReadingType accumulationBehaviour {accumulation_text} ({kind}): register reads, not usage"
            )
            raise self.error(accumulation_line, reason)
        reading_type = ReadingType(unit, int(power_text or "0"), self.line)
        if self.entry is not None:
            self.entry.reading_type = reading_type
        if self.meter is not None:
            self._only_reading_type(reading_type)
        else:
            self.all_reading_types.append(reading_type)
            if self.unlinked_line:
                self._check_one_series()
                self._release_unlinked()

    def _only_reading_type(self, reading_type: ReadingType) -> None:
        if self.only_reading_type is not None:
            reason = (
                f"a second ReadingType (the first is on line {self.only_reading_type.line}): a feed with "
                f"several series cannot all be meter {self.meter!r}; import it without a meter id"
            )
            raise self.error(reading_type.line, reason)
        self.only_reading_type = reading_type
        waiting, self.before_reading_type = self.before_reading_type, []
        self._emit(self.meter or "", reading_type, waiting)

    def _one_meter_reading(self, line: int) -> None:
        """With a meter given, the feed must hold one series: refuse the blocks of a second MeterReading."""
        key = self.entry.block_key if self.entry is not None else None
        if key is None:
            return
        if self.meter_reading is None:
            self.meter_reading = key
        elif key != self.meter_reading:
            first, second = (f"UsagePoint/{up}/MeterReading/{mr}" for up, mr in (self.meter_reading, key))
            reason = (
                f"readings of {second} after those of {first}: a feed with several series cannot all be "
                f"meter {self.meter!r}; import it without a meter id"
            )
            raise self.error(line, reason)

    def _quality(self, text: str) -> None:
        if not text.isdigit():
            raise self.error(self.line, f"ReadingQuality quality {text!r} is not a number")
        quality = quality_of_reading(int(text))
        if QUALITY_RANK[quality] < QUALITY_RANK[self.reading_quality]:
            self.reading_quality = quality

    def _interval_reading(self) -> None:
        line, reading = self.reading_line, self.reading
        start_text, duration_text, value_text = (
            reading.get("start"),
            reading.get("duration"),
            reading.get("value"),
        )
        if start_text is None or duration_text is None:
            raise self.error(line, "the IntervalReading has no timePeriod start and duration")
        if not _INTEGER.fullmatch(start_text) or not 0 <= int(start_text) <= _LAST_SECOND:
            reason = f"timePeriod start {start_text!r} is not whole seconds since 1970-01-01 UTC"
            raise self.error(line, reason)
        if not duration_text.isdigit() or not 0 < int(duration_text) <= _LONGEST_PERIOD:
            reason = f"timePeriod duration {duration_text!r} is not a number of seconds up to a year"
            raise self.error(line, reason)
        if value_text is None:
            raise self.error(line, "the IntervalReading has no value")
        if not _DECIMAL.fullmatch(value_text):
            raise self.error(line, f"value {value_text!r} is not a number")
        raw = _Raw(int(start_text), int(duration_text), Decimal(value_text), self.reading_quality, line)
        if self.meter is not None:
            self._one_meter_reading(line)
            if self.only_reading_type is None:
                self.before_reading_type.append(raw)
            else:
                self._emit(self.meter, self.only_reading_type, [raw])
            return
        entry = self.entry
        if entry is None:
            raise self.error(line, self._unlinked())
        if entry.block_key is None:
            entry.waiting.append(raw)  # its links may follow the content
            return
        self._place(entry.block_key, [raw])

    def _entry_end(self, entry: _Entry) -> None:
        if self.meter is not None:
            return
        if entry.usage_point_line:
            self._usage_point(entry)
        if entry.reading_type is not None:
            reading_type_id = self._reading_type_id(entry, "self")
            if reading_type_id is None:
                reading_type_id = f"line {entry.reading_type.line}"
            self.reading_types[reading_type_id] = entry.reading_type
            self._release_parked()
        if entry.is_meter_reading:
            self_key = self._meter_reading_key(entry)
            related = self._reading_type_id(entry, "related")
            if self_key is not None and related is not None:
                self.reading_type_of[self_key] = related
                self._release_parked()
        if entry.waiting:
            key = entry.block_key
            waiting, entry.waiting = entry.waiting, []
            if key is None:
                self._unlinked_block(entry.first_block_line, waiting)
            else:
                self._place(key, waiting)

    def _place(self, key: tuple[str, str], raws: list[_Raw]) -> None:
        reading_type = self._reading_type_for(key)
        if reading_type is None or key in self.parked:
            self.parked.setdefault(key, []).extend(raws)
        else:
            self._emit(f"{key[0]}-{key[1]}", reading_type, raws)

    def _release_parked(self) -> None:
        for key in list(self.parked):
            reading_type = self._reading_type_for(key)
            if reading_type is not None:
                self._emit(f"{key[0]}-{key[1]}", reading_type, self.parked.pop(key))

    def _reading_type_for(self, key: tuple[str, str]) -> ReadingType | None:
        reading_type_id = self.reading_type_of.get(key)
        return None if reading_type_id is None else self.reading_types.get(reading_type_id)

    def _emit(self, meter: str, reading_type: ReadingType, raws: list[_Raw]) -> None:
        unit = reading_type.unit.unit
        for raw in raws:
            start = _EPOCH + timedelta(seconds=raw.start)
            end = start + timedelta(seconds=raw.duration)
            self.ready.append(
                IntervalReading(meter, start, end, reading_type.stored(raw.value), unit, raw.quality)
            )

    # an unlinked feed: one series, named after its UsagePoint entry or the feed

    def _atom_field(self, name: str, parent: str, text: str) -> None:
        value = None if self.text_length > MAX_TEXT or not text else text
        if parent == "feed":
            if name == "id":
                self.feed_id = value
        elif self.entry is not None:
            self.entry.atom[name] = value

    def _usage_point(self, entry: _Entry) -> None:
        title, atom_id = entry.atom.get("title"), entry.atom.get("id")
        name = title if title is not None and len(title) <= _LONGEST_TITLE else atom_id
        if name is None:
            name = next(
                (found.group(1) for rel, href in entry.links
                 if rel == "self" and (found := _USAGE_POINT_LINK.search(href))),
                None,
            )  # fmt: skip
        self.usage_points.append((name, entry.usage_point_line))
        if self.unlinked_line:
            self._check_one_series()
            self._release_unlinked()

    def _unlinked_block(self, line: int, raws: list[_Raw]) -> None:
        if not self.unlinked_line:
            self.unlinked_line = line
        self.unlinked.extend(raws)
        self._check_one_series()
        self._release_unlinked()

    def _check_one_series(self) -> None:
        """An unlinked feed is one series: a second UsagePoint or ReadingType makes its readings ambiguous."""
        blocks = f"IntervalBlocks without links (the first on line {self.unlinked_line})"
        if len(self.usage_points) > 1:
            first, second = self.usage_points[0][1], self.usage_points[1][1]
            reason = (
                f"a second UsagePoint (the first is on line {first}) in a feed with {blocks}: nothing says "
                f"whose they are; give the meter id to read them all as one meter"
            )
            raise self.error(second, reason)
        if len(self.all_reading_types) > 1:
            first, second = self.all_reading_types[0].line, self.all_reading_types[1].line
            reason = (
                f"a second ReadingType (the first is on line {first}) in a feed with {blocks}: nothing says "
                f"which unit their values are in"
            )
            raise self.error(second, reason)

    def _release_unlinked(self, *, at_end: bool = False) -> None:
        """Emit the unlinked readings once their unit and name are known (the feed's name: at its end)."""
        if not self.unlinked:
            return
        if not self.all_reading_types:
            if at_end:
                raise self.error(
                    self.unlinked[0].line, "no ReadingType in the feed says what unit the values are in"
                )
            return
        if self.usage_points:
            name, line = self.usage_points[0]
            if name is None:
                reason = (
                    "the UsagePoint entry has no title or id to name the meter of the feed's IntervalBlocks "
                    "without links; give the meter id"
                )
                raise self.error(line, reason)
        elif at_end:
            name = self.feed_id
            if name is None:
                raise self.error(self.unlinked_line, self._unlinked())
        else:
            return  # a UsagePoint entry may follow
        unlinked, self.unlinked = self.unlinked, []
        self._emit(name, self.all_reading_types[0], unlinked)

    # links

    def _meter_reading_key(self, entry: _Entry) -> tuple[str, str] | None:
        for rel, href in entry.links:
            if rel == "self" and (found := _METER_READING_LINK.search(href)):
                return found.group(1), found.group(2)
        return None

    def _reading_type_id(self, entry: _Entry, rel: str) -> str | None:
        for link_rel, href in entry.links:
            if link_rel == rel and (found := _READING_TYPE_LINK.search(href)):
                return found.group(1)
        return None

    def _unlinked(self) -> str:
        return (
            "the IntervalBlock's entry has no link to its MeterReading (rel self or up, "
            "…/UsagePoint/<id>/MeterReading/<id>/IntervalBlock), and neither a UsagePoint entry nor the "
            "feed's <id> names its meter; give the meter id to import an unlinked feed"
        )

    def _unresolved(self, key: tuple[str, str]) -> str:
        usage_point, meter_reading = key
        name = f"UsagePoint/{usage_point}/MeterReading/{meter_reading}"
        reading_type_id = self.reading_type_of.get(key)
        if reading_type_id is None:
            return f"no entry for {name} with a related link to its ReadingType, so the values have no unit"
        return f"{name} refers to ReadingType/{reading_type_id}, which is not in the feed"
