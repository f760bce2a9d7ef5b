"""JSON and XML bodies in the shapes GeoReport v2 gives them (XML is the spec's required one)."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from fastapi.responses import Response

FORMATS = frozenset({"json", "xml"})
#: The element name of one item of a list, by the list's element name.
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            _fill(ET.SubElement(element, name), child)
    elif isinstance(value, list):
        item = _ITEM.get(element.tag, "item")
        for child in value:
            _fill(ET.SubElement(element, item), child)
    elif value is not None:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    """``value`` (a list or a dict) under ``root``, with the declaration and UTF-8."""
    element = ET.Element(root)
    _fill(element, value)
    body: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return body


def render(fmt: str, root: str, value: Any, status_code: int = 200) -> Response:
    """A response in ``fmt``; ``root`` names the XML root (JSON is the bare list or object)."""
    if fmt == "xml":
        return Response(to_xml(root, value), status_code, media_type="application/xml")
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code, media_type="application/json")


def error(
    fmt: str, status_code: int, description: str, headers: dict[str, str] | None = None
) -> Response:
    """The spec's error body: ``[{"code": 400, "description": "..."}]`` or ``<errors>``."""
    response = render(
        fmt, "errors", [{"code": status_code, "description": description}], status_code
    )
    response.headers.update(headers or {})
    return response


def format_of(path: str) -> str:
    """The format a path asks for by its suffix; JSON when it names none we know."""
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return suffix if suffix in FORMATS else "json"
