"""Conformance with an Open311 client not written here: the ``georeport`` package from PyPI.

The server runs on a loopback port; the client lists services, reads a definition and reads
requests back by id and in a list, in JSON and in XML mode. ``georeport`` 0.3 cannot create
requests, so the POST is made as the spec describes it (a form with ``api_key``) over HTTP.
"""

from __future__ import annotations

import httpx
import pytest

georeport = pytest.importorskip("georeport")


def _as_list(value):
    """xmltodict gives a dict for one repeated element and a list for several."""
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_client_lists_reads_and_finds_a_posted_request(
    open311_server, api_key, district, output_format
):
    endpoint = f"{open311_server}/open311/v2"
    client = georeport.GeoReport(
        endpoint, jurisdiction=district, api_key=api_key, output_format=output_format
    )

    services = _as_list(client.get_service_list())
    by_code = {s["service_code"]: s for s in services}
    assert "E0102" in by_code and by_code["E0102"]["service_name"] == "暴露垃圾"
    assert str(by_code["E0102"]["metadata"]).lower() == "true"

    definition = client.get_service_definition("E0102")
    assert definition["service_code"] == "E0102"
    attributes = definition["attributes"]
    if output_format == "xml":
        attributes = _as_list(attributes["attribute"])
    assert attributes[0]["code"] == "hazard"

    posted = httpx.post(
        f"{endpoint}/requests.{output_format}",
        data={
            "api_key": client.api_key,
            "jurisdiction_id": district,
            "service_code": "E0102",
            "lat": "39.8400",
            "long": "116.2870",
            "description": f"georeport {output_format}: 路口暴露垃圾",
            "attribute[hazard]": "no",
        },
        timeout=30,
    )
    assert posted.status_code == 200, posted.text
    if output_format == "json":
        request_id = posted.json()[0]["service_request_id"]
    else:
        import xmltodict

        request_id = xmltodict.parse(posted.content)["service_requests"]["request"][
            "service_request_id"
        ]

    one = client.get_service_request(request_id)
    assert one["service_request_id"] == request_id
    assert one["status"] == "open" and one["service_code"] == "E0102"
    assert one["description"].startswith(f"georeport {output_format}")

    listed = _as_list(client.get_service_requests(status="open", service_code="E0102"))
    assert request_id in [r["service_request_id"] for r in listed]
    by_id = _as_list(client.get_service_requests(service_request_id=request_id))
    assert [r["service_request_id"] for r in by_id] == [request_id]
