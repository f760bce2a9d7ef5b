"""Phone and ID-card numbers are masked in every log record, access log included."""

from __future__ import annotations

import logging

from cityops import logsafety


def test_mask_pii_keeps_numbers_recognisable_but_unusable():
    text = (
        "caller 13812341234 id 110106199001011234 and 11010619900101123X, case 11010620261123000042"
    )
    assert logsafety.mask_pii(text) == (
        "caller 138****1234 id 110106************ and 110106************, case 11010620261123000042"
    )


def test_access_log_lines_are_masked(app, caplog):
    # create_app installed the masking; uvicorn's access log uses exactly this call. A server
    # started earlier in the same worker stops uvicorn.access propagating to the root logger,
    # so the capture handler is attached to each logger itself.
    access, ours = logging.getLogger("uvicorn.access"), logging.getLogger("cityops.anything")
    for logger in (access, ours):
        logger.addHandler(caplog.handler)
        logger.setLevel(logging.INFO)
    try:
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/api/v1/cases?q=13912345678",
            "1.1",
            200,
        )
        ours.warning("reporter phone %s", "15800001111")
    finally:
        for logger in (access, ours):
            logger.removeHandler(caplog.handler)
    assert "13912345678" not in caplog.text and "139****5678" in caplog.text
    assert "15800001111" not in caplog.text and "158****1111" in caplog.text


def test_no_contact_reaches_the_logs_through_the_api(client, make_user, login, caplog):
    caplog.set_level(logging.DEBUG)
    headers = login(make_user("operator"))
    body = {
        "kind": "event",
        "minor_code": "0102",
        "description": "市民13612345678反映暴露垃圾",
        "lon": 116.29,
        "lat": 39.84,
        "reporter_name": "王小明",
        "reporter_phone": "13612345678",
    }
    client.post("/api/v1/cases", json=body, headers=headers)
    client.post("/api/v1/cases", json=body | {"lon": 999}, headers=headers)
    client.get("/api/v1/cases", params={"q": "13612345678"}, headers=headers)
    assert "13612345678" not in caplog.text
