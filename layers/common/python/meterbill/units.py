"""The units meter data can be in, as meterbill spells them; a tariff prices one of them."""

from __future__ import annotations

METER_UNITS = (
    "Wh", "kWh", "MWh", "VArh", "kVArh", "MVArh", "VAh", "kVAh", "MVAh",
    "m3", "L", "ft3", "gal", "therm", "MJ", "GJ", "h", "s",
)  # fmt: skip
