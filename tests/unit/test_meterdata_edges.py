"""Meter-data edges of issue 8: a NEM12 channel that changes its interval length (item 7), a Green Button feed
without links (item 10), a NEM12 file with no 200 record (item 11)."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

from meterbill.cli import main
from meterbill.meterdata.importing import ImportFormatError
from meterbill.meterdata.nem12 import read_nem12
from tests.fakes import FakeStores
from tests.unit.api_support import ACCOUNT, handler_client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

D = Decimal
NEM12_HEADER = "100,NEM12,202601150930,MDP1,RETAILER1"
NO_200_RECORD = "no 200 record: the file has a header and an end but no NMI channel, so no interval data"


def write(directory: Path, name: str, *lines: str) -> str:
    path = directory / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    """Exit code, stdout lines, stderr lines."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


# Item 11: a NEM12 file of only a header (100) and an end (900)


def test_a_nem12_file_without_a_200_record_is_refused_on_its_end_record() -> None:
    with pytest.raises(ImportFormatError) as caught:
        list(read_nem12(io.StringIO(f"{NEM12_HEADER}\n900\n"), "empty.csv"))
    assert (caught.value.source, caught.value.line, caught.value.reason) == ("empty.csv", 2, NO_200_RECORD)


@pytest.mark.parametrize("command", ["convert", "validate"])
def test_convert_and_validate_refuse_a_nem12_file_without_a_200_record_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = write(tmp_path, "empty.V01", NEM12_HEADER, "900")
    assert run(capsys, command, path) == (2, [], [f"meterbill {command}: {path}:2: {NO_200_RECORD}"])


def test_the_api_answers_422_on_the_body_for_a_nem12_file_without_a_200_record(fakes: FakeStores) -> None:
    api = handler_client().as_key(ACCOUNT, "ingest")
    answer = api.request(
        "POST",
        "/v1/imports",
        body=f"{NEM12_HEADER}\n900\n",
        query={"format": "nem12"},
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status == 422
    assert answer.json["errors"] == [{"field": "body", "reason": f"line 2: {NO_200_RECORD}"}]
    assert fakes.readings.items == {}
