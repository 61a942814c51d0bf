"""The account's logo over HTTP: PUT the PNG or JPEG file itself, GET it back; anything an invoice could
not show is refused with the reason (413 too many bytes, 415 not an image type, 422 what is wrong)."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import pytest
from PIL import Image

from meterbill.documents.logo import MAX_LOGO_BYTES
from meterbill.services.logo import logo_of
from tests.fakes import FakeStores
from tests.unit.api_support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    ApiClient,
    HttpAnswer,
    LambdaContextStub,
    authorizer_context,
    handler_client,
    problem,
    proxy_event,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

PATH = "/v1/settings/logo"
NOW = "2026-03-01T12:00:00Z"  # the fake store's clock


def image(width: int, height: int, fmt: str = "PNG", mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), "white" if mode != "CMYK" else (0, 0, 0, 0)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


def put(api: ApiClient, data: bytes, content_type: str = "image/png") -> HttpAnswer:
    """As API Gateway passes a binary media type: base64."""
    return api.request(
        "PUT",
        PATH,
        body=base64.b64encode(data).decode(),
        base64_encoded=True,
        headers={"Content-Type": content_type},
    )


def get_raw(account: str = ACCOUNT) -> dict[str, Any]:
    from functions.ingest.ingest_handler import lambda_handler

    event = proxy_event("GET", PATH, authorizer=authorizer_context(account, "read"))
    return lambda_handler(event, LambdaContextStub())


def test_a_png_is_stored_and_read_back_byte_for_byte(api, fakes):
    png = image(360, 110)

    answer = put(api, png)

    digest = hashlib.sha256(png).hexdigest()
    assert (answer.status, answer.headers["etag"]) == (200, f'"{digest}"')
    assert answer.json == {
        "image_type": "image/png",
        "bytes": len(png),
        "width": 360,
        "height": 110,
        "sha256": digest,
        "updated_at": NOW,
    }
    got = get_raw()
    assert (got["statusCode"], got["isBase64Encoded"]) == (200, True)
    assert base64.b64decode(got["body"]) == png
    assert got["multiValueHeaders"]["Content-Type"] == ["image/png"]
    assert fakes.accounts.logos[ACCOUNT].data == png


def test_the_document_builder_reads_the_logo_for_the_invoice(api, fakes):
    jpeg = image(400, 200, "JPEG")
    put(api, jpeg, "image/jpeg")

    logo = logo_of(ACCOUNT, fakes.accounts)

    assert logo is not None and (logo.image_type, logo.data) == ("image/jpeg", jpeg)
    assert logo_of(OTHER_ACCOUNT, fakes.accounts) is None


def test_an_account_without_a_logo_answers_404(api):
    got = get_raw()

    assert got["statusCode"] == 404


def test_a_logo_over_256_kb_answers_413(api, fakes):
    big = image(10, 10) + b"\x00" * MAX_LOGO_BYTES

    answer = put(api, big)

    assert answer.json == problem(
        413, f"the request body has {len(big)} bytes; this route takes at most {MAX_LOGO_BYTES}"
    )
    assert fakes.accounts.logos == {}


def test_a_logo_over_2000_pixels_on_a_side_answers_422(api, fakes):
    answer = put(api, image(2001, 40))

    assert answer.json == problem(
        422,
        "body: the logo is 2001 × 40 pixels; at most 2000 × 2000",
        ("body", "the logo is 2001 × 40 pixels; at most 2000 × 2000"),
    )
    assert fakes.accounts.logos == {}


@pytest.mark.parametrize(
    ("data", "content_type", "reason"),
    [
        (b"GIF89a" + b"\x00" * 20, "image/png", "not a PNG or JPEG image: it is a GIF"),
        (
            b"hello, world",
            "image/png",
            "not a PNG or JPEG image: it begins with bytes 68 65 6c 6c 6f 2c 20 77",
        ),
        (image(10, 10), "image/jpeg", "the Content-Type says image/jpeg but the file is image/png"),
        (image(300, 300)[:200], "image/png", "the PNG cannot be read: "),
        (
            image(40, 40, "JPEG", "CMYK"),
            "image/jpeg",
            "the JPEG is in CMYK colours; save it as RGB (sRGB) or greyscale",
        ),
    ],
)
def test_a_file_no_invoice_could_show_answers_422_with_the_reason(api, fakes, data, content_type, reason):
    answer = put(api, data, content_type)

    assert answer.status == 422
    (error,) = answer.json["errors"]
    assert error["field"] == "body" and error["reason"].startswith(reason)
    assert fakes.accounts.logos == {}


def test_an_image_type_other_than_png_or_jpeg_answers_415(api):
    answer = put(api, b"GIF89a", "image/gif")

    assert answer.status == 415
    assert "image/png, image/jpeg" in answer.json["detail"]


def test_a_read_key_cannot_upload_a_logo(api, fakes):
    answer = put(api.as_key(ACCOUNT, "read"), image(10, 10))

    assert answer.status == 403
    assert fakes.accounts.logos == {}


def test_each_account_has_its_own_logo(api, fakes):
    put(api, image(10, 10))

    assert get_raw(OTHER_ACCOUNT)["statusCode"] == 404
