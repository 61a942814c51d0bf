"""A realistic invoice document for the README's picture, the benchmark and the tests of the renderers.

A colocation tenant in Berlin, November 2026: a rack PDU on a time-of-use tariff (peak and off-peak energy, a
monthly fee) and a quarter share of the hall's main meter (a register meter with a CT multiplier) with the
cooling plant's common usage allocated to it; VAT 19 % per bill, as the engine writes it; 12 months of
history. Amounts are the engine's arithmetic (quantity × rate, rounded half-up to the cent).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from meterbill.billing.invoice import Invoice, InvoiceLine, MeterUsage, invoice_id, issue
from meterbill.billing_settings import BankAccount, Seller, SellerContact
from meterbill.documents.model import Buyer, HistoryMonth, InvoiceDocument, Logo, MeterDetail
from meterbill.domain import Address, Language
from meterbill.money import round_money

ACCOUNT = "acc-nordhafen"
CUSTOMER = "C-10042"
PERIOD = (date(2026, 11, 1), date(2026, 12, 1))
VAT = Decimal("0.19")


def sample_seller() -> Seller:
    return Seller(
        legal_name="Nordhafen Rechenzentren GmbH",
        address=Address(lines=("Am Spreeufer 12",), postal_code="10245", city="Berlin", country="DE"),
        vat_id="DE811907980",
        tax_number="37/123/45678",
        registration="HRB 204117 B, Amtsgericht Charlottenburg",
        contact=SellerContact(
            name="Billing team", email="billing@nordhafen-dc.example", phone="+49 30 1234567"
        ),
        bank_account=BankAccount(iban="DE89370400440532013000", bic="COBADEFFXXX"),
    )


def _line(
    meter: str,
    assignment: str,
    component: str,
    description: str,
    quantity: str,
    unit: str,
    rate: str | None,
    *,
    share: str = "1",
    period: str | None = None,
) -> InvoiceLine:
    q = Decimal(quantity)
    r = None if rate is None else Decimal(rate)
    amount = round_money(q * (r if r is not None else Decimal(1)), "EUR")
    start, end = PERIOD
    return InvoiceLine(
        meter,
        assignment,
        start,
        end,
        component,
        description,
        q,
        unit,
        r,
        amount,
        tariff_id="colo-2026",
        tariff_version=3,
        share=Decimal(share),
        period=period,
    )


def _with_tax(lines: list[InvoiceLine]) -> list[InvoiceLine]:
    first = lines[0]
    base = sum((line.amount for line in lines), Decimal(0))
    tax = InvoiceLine(
        first.meter_id,
        first.assignment_id,
        first.start,
        first.end,
        "tax",
        "VAT (19%)",
        base,
        "EUR",
        VAT,
        round_money(base * VAT, "EUR"),
        first.tariff_id,
        first.tariff_version,
        first.share,
    )
    return [*lines, tax]


def sample_invoice(*, lines_per_meter: int = 0) -> Invoice:
    """The issued invoice; ``lines_per_meter`` adds that many more daily energy lines per meter (a long,
    multi-page invoice for tests and the benchmark)."""
    pdu = [
        _line("PDU-B-0417", "asg-1", "fixed", "Rack space and power feed, 42U", "1", "month", "450.00"),
        _line(
            "PDU-B-0417",
            "asg-1",
            "energy",
            "Energy, peak (Mon–Fri 08:00–20:00)",
            "2184.375",
            "kWh",
            "0.3124",
            period="peak",
        ),
        _line(
            "PDU-B-0417", "asg-1", "energy", "Energy, off-peak", "3921.5", "kWh", "0.2261", period="off_peak"
        ),
    ]
    main = [
        _line(
            "MAIN-HV-01",
            "asg-7",
            "energy",
            "Energy, hall 2 main meter",
            "4620",
            "kWh",
            "0.2710",
            share="0.25",
        ),
        _line(
            "MAIN-HV-01",
            "asg-7",
            "shared",
            "Shared usage: cooling plant, 12.5% of 9,200 kWh by floor area",
            "1150",
            "kWh",
            "0.2710",
        ),
    ]
    for i in range(lines_per_meter):
        day = f"{i % 30 + 1:02d}.11."
        pdu.append(
            _line("PDU-B-0417", "asg-1", "energy", f"Energy adjustment {day}", "12.5", "kWh", "0.2261")
        )
        main.append(
            _line(
                "MAIN-HV-01",
                "asg-7",
                "energy",
                f"Energy adjustment {day}",
                "7.25",
                "kWh",
                "0.2710",
                share="0.25",
            )
        )
    start, end = PERIOD
    draft = Invoice(
        id=invoice_id(ACCOUNT, CUSTOMER, start, end),
        account_id=ACCOUNT,
        customer_id=CUSTOMER,
        kind="invoice",
        period_start=start,
        period_end=end,
        currency="EUR",
        lines=(*_with_tax(pdu), *_with_tax(main)),
        computed_at=datetime(2026, 12, 3, 6, 0, tzinfo=UTC),
        meter_usage=(
            MeterUsage("MAIN-HV-01", "kWh", Decimal("4620"), Decimal("0")),
            MeterUsage("PDU-B-0417", "kWh", Decimal("6105.875"), Decimal("96.25"), missing_intervals=0),
        ),
    )
    return issue(draft, "INV-2026-000731", datetime(2026, 12, 3, 7, 30, tzinfo=UTC))


HISTORY_KWH = (
    "9480.2",
    "9012.7",
    "9655.0",
    "9201.4",
    "9873.9",
    "10412.6",
    "11240.3",
    "11876.0",
    "11102.5",
    "10240.8",
    "9950.1",
    "10380.4",
)


def sample_history() -> tuple[HistoryMonth, ...]:
    months = [date(2025 + (10 + i) // 12, (10 + i) % 12 + 1, 1) for i in range(12)]  # Nov 2025 .. Oct 2026
    return tuple(HistoryMonth(m, Decimal(q), "kWh") for m, q in zip(months, HISTORY_KWH, strict=True))


def sample_document(
    *,
    language: Language = "en",
    logo: Logo | None = None,
    lines_per_meter: int = 0,
    buyer_name: str = "Müller & Łukasiewicz Hosting GmbH",
    country: str = "DE",
) -> InvoiceDocument:
    return InvoiceDocument(
        invoice=sample_invoice(lines_per_meter=lines_per_meter),
        seller=sample_seller(),
        buyer=Buyer(
            customer_id=CUSTOMER,
            name=buyer_name,
            address=Address(
                lines=("Torstraße 140", "3. OG"), postal_code="10119", city="Berlin", country=country
            ),
            vat_id="DE293817465" if country == "DE" else None,
            buyer_reference="PO-2026-118",
            emails=("ap@mueller-hosting.example",),
        ),
        language=language,
        issue_date=date(2026, 12, 3),
        due_date=date(2026, 12, 17),
        meters=(
            MeterDetail(
                "MAIN-HV-01",
                "kWh",
                "electricity",
                location="Hall 2, main LV board (shared 25%)",
                serial="EMH-7741902",
                multiplier=Decimal(40),
                start_read=Decimal("18402.35"),
                end_read=Decimal("18864.35"),
            ),
            MeterDetail(
                "PDU-B-0417", "kWh", "electricity", location="Hall 2, cage 4 / PDU B", serial="RPDU-0417"
            ),
        ),
        history=sample_history(),
        title=None,
        logo=logo,
    )


def sample_logo() -> Logo:
    """A small PNG drawn with Pillow: the account's logo in the sample."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (360, 110), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 8, 98, 102), radius=18, fill=(0, 84, 122))
    draw.polygon([(58, 20), (30, 62), (50, 62), (40, 92), (72, 46), (52, 46)], fill=(255, 214, 10))
    draw.text((112, 30), "NORDHAFEN", fill=(0, 84, 122), font_size=38)
    draw.text((114, 72), "data centres", fill=(90, 90, 90), font_size=22)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return Logo("image/png", buffer.getvalue())
