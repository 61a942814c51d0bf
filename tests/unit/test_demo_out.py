"""``local/demo_out.py`` refuses a mail folder it would clear: the platform's own emails are never deleted."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest

from local.demo_out import Sources, write_from


@pytest.mark.parametrize("mail", ["emails", "emails/inbox"])
def test_a_mail_folder_inside_the_emails_output_is_refused_and_nothing_is_deleted(
    tmp_path: Path, mail: str
) -> None:
    out = tmp_path / "demo-out"
    sent = out / mail / "20261201T000000Z-inv_1-1-msg.eml"
    sent.parent.mkdir(parents=True)
    sent.write_bytes(b"the platform's email")
    sources = Sources(
        stores=cast(Any, None), documents=cast(Any, None), alerts=cast(Any, None), mail_dir=out / mail
    )

    with pytest.raises(
        ValueError, match=r"^out_dir: .*demo-out/emails would be cleared of the mail folder's"
    ):
        write_from(sources, "acc", out, chart_meters=("m",), start=date(2026, 11, 1), end=date(2026, 12, 1))

    assert sent.read_bytes() == b"the platform's email"
