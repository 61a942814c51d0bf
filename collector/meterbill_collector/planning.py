"""Which Modbus requests read a profile: as few as the meter allows.

The registers of one table, in address order, share a request while the request stays within the profile's
``max_read`` (registers, or bits in a coil/discrete table) and the unmapped addresses between two of them are
at most ``max_gap`` (most meters answer exception 2 to an address they do not map: ``max_gap`` 0)."""

from __future__ import annotations

from collections.abc import Sequence

from meterbill_collector.decoding import DecodeError
from meterbill_collector.registers import TABLES, Profile, ReadRequest, RegisterSpec


class PlanError(ValueError):
    """The profile cannot be read: a register is longer than one request may be (``max_read``)."""


def plan_reads(profile: Profile) -> tuple[ReadRequest, ...]:
    """The requests that read every register of ``profile``: coils, then discrete inputs, holding and input
    registers, each table in address order."""
    requests: list[ReadRequest] = []
    for table in TABLES:
        specs = sorted((s for s in profile.registers if s.table == table), key=lambda s: (s.address, s.name))
        group: list[RegisterSpec] = []
        start = end = 0  # the group's first address and one past its last
        for spec in specs:
            if spec.words > profile.max_read:
                raise PlanError(
                    f"register '{spec.name}' ({spec.type}, {spec.words} registers) is longer than "
                    f"max_read {profile.max_read}"
                )
            spec_end = spec.address + spec.words
            within = max(end, spec_end) - start <= profile.max_read
            if group and spec.address - end <= profile.max_gap and within:
                group.append(spec)
                end = max(end, spec_end)
                continue
            if group:
                requests.append(ReadRequest(table, start, end - start, tuple(group)))
            group, start, end = [spec], spec.address, spec_end
        if group:
            requests.append(ReadRequest(table, start, end - start, tuple(group)))
    return tuple(requests)


def split(request: ReadRequest, words: Sequence[int]) -> dict[str, list[int]]:
    """Each register's words (bits, 0 or 1, in a bit table) out of what ``request`` read.

    Raises ``DecodeError`` when the answer is not ``request.count`` long (a meter answering garbage)."""
    if len(words) != request.count:
        raise DecodeError(
            f"{request.table} {request.address}: {len(words)} registers read, the request asked for "
            f"{request.count}"
        )
    return {
        spec.name: list(words[spec.address - request.address : spec.address - request.address + spec.words])
        for spec in request.specs
    }
