"""UN/ECE Recommendation 20 unit codes (EN 16931 BT-130) for the units meterbill bills in.

Each code below is in the Rec 20 list the Factur-X EN 16931 schematron checks (its code list 8) and was
checked against Rec 20's names: KWH kilowatt hour, K3 kilovolt ampere reactive hour, C79 kilovolt ampere hour,
MAH megavolt ampere reactive hour, 3B megajoule, GV gigajoule, N72 therm (U.S.) (Green Button's therm),
GLL liquid gallon (US), D46 volt - ampere, KVR kilovar, MAR megavolt ampere reactive, MQH cubic metre per
hour, E32 litre per hour, C62 one. A unit with no Rec 20 code (VArh, VAh, MVAh, VAr, a demand of ft3/h, ...)
is refused: its tariff cannot be carried by an e-invoice until it bills in a unit that has one.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

ONE: Final = "C62"  # "one": a count, or a line carried as a single amount

REC20: Final = MappingProxyType(
    {
        # energy and volume (meterbill.units.METER_UNITS)
        "Wh": "WHR",
        "kWh": "KWH",
        "MWh": "MWH",
        "kVArh": "K3",
        "MVArh": "MAH",
        "kVAh": "C79",
        "m3": "MTQ",
        "L": "LTR",
        "ft3": "FTQ",
        "gal": "GLL",
        "therm": "N72",
        "MJ": "3B",
        "GJ": "GV",
        "h": "HUR",
        "s": "SEC",
        # demand (the engine's energy unit without its hour: kWh -> kW, m3 -> m3/h)
        "W": "WTT",
        "kW": "KWT",
        "MW": "MAW",
        "kVAr": "KVR",
        "MVAr": "MAR",
        "VA": "D46",
        "kVA": "KVA",
        "MVA": "MVA",
        "m3/h": "MQH",
        "L/h": "E32",
        # the engine's other line units: fixed charges per day or month, packages, shares, minimums
        "day": "DAY",
        "month": "MON",
        "session": ONE,
        "share": ONE,
        "bill": ONE,
    }
)


class UnitCodeError(ValueError):
    """A unit that has no UN/ECE Rec 20 code here."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.reason = (
            f"{unit!r} has no UN/ECE Rec 20 code an e-invoice can carry (known: {', '.join(REC20)}); "
            "bill it in one of those units"
        )
        super().__init__(self.reason)


def rec20(unit: str) -> str:
    """The Rec 20 code of a meterbill unit ("kWh" -> "KWH"); UnitCodeError for a unit without one."""
    try:
        return REC20[unit]
    except KeyError:
        raise UnitCodeError(unit) from None
