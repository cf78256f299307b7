"""FHIR XML ↔ FHIR JSON, tolerant, for responses, fixtures and simulated answers.

The Nictiz scripts come in a ``-json`` and an ``-xml`` variant
(docs/qualification.md#file-format), so a server under test answers in both formats, and the
fixtures are XML. The engine evaluates FHIRPath over the JSON form, and the simulator serves both.

The conversion follows the FHIR XML and JSON rules (``http://hl7.org/fhir/xml.html``,
``json.html``): a primitive's ``value`` attribute becomes a JSON string, number or
boolean by its type; its ``id`` and ``extension`` go to ``_name``; repeating elements
become arrays, with ``null`` placeholders keeping primitive values and their extensions
aligned; ``div`` stays XHTML text; an ``Extension``'s ``url`` is an attribute. Which
element repeats and which type it has comes from :mod:`medmij_stack.testscript.structure`.

Tolerant means: an element the base structure does not know is still converted (as
text or as an object) and reported in ``problems``, so a bad response is judged by the
asserts and the profile check rather than refused by the parser. Parsing is hardened
like the list reader: no DTDs, entities or network.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from medmij_stack.testscript.structure import ElementInfo, Structure

__all__ = [
    "FHIR_NS",
    "XHTML_NS",
    "json_to_xml",
    "json_to_xml_bytes",
    "parse_xml",
    "xml_to_json",
]

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_F = f"{{{FHIR_NS}}}"
# lxml takes None as the default-namespace key; its stubs only know str keys.
_NSMAP: Any = {None: FHIR_NS}
_XHTML_NSMAP: Any = {None: XHTML_NS}


def parse_xml(data: bytes | str) -> etree._Element:
    """Parse an XML document without DTDs, entity expansion or network access.

    Raises ``ValueError`` with the parser's message for anything that is not well-formed,
    and for a document with a DOCTYPE (FHIR XML has none).
    """
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        root = etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from exc
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ValueError("XML with a DOCTYPE is refused (FHIR XML has none)")
    return root


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _children(element: etree._Element) -> list[etree._Element]:
    # Comments and processing instructions carry no FHIR content.
    return [child for child in element if isinstance(child.tag, str)]


def xml_to_json(
    element: etree._Element, structure: Structure, problems: list[str] | None = None
) -> dict[str, Any]:
    """A FHIR XML resource element as its JSON object (``resourceType`` first)."""
    sink = problems if problems is not None else []
    if etree.QName(element).namespace != FHIR_NS:
        sink.append(f"{_local(element)}: not in the FHIR namespace {FHIR_NS}")
    resource_type = _local(element)
    result: dict[str, Any] = {"resourceType": resource_type}
    if not structure.is_resource_type(resource_type):
        sink.append(f"{resource_type}: not a FHIR {structure.version.release} resource type")
    result.update(_complex(element, resource_type, resource_type, structure, sink))
    return result


def _complex(
    element: etree._Element, type_name: str, path: str, structure: Structure, sink: list[str]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    element_id = element.get("id")
    if element_id is not None:
        result["id"] = element_id
    if type_name == "Extension" or _local(element) in ("extension", "modifierExtension"):
        url = element.get("url")
        if url is not None:
            result["url"] = url
    known = structure.elements(type_name)
    primitive_extras: dict[str, list[Any]] = {}
    for child in _children(element):
        name = _local(child)
        child_path = f"{path}.{name}"
        info = known.get(name)
        if info is None:
            if known:
                sink.append(f"{child_path}: unknown element")
            info = _guess(child, name)
        value, extra = _value(child, info, child_path, structure, sink)
        if info.is_list:
            result.setdefault(name, []).append(value)
            if info.primitive:
                primitive_extras.setdefault(name, []).append(extra)
        else:
            if name in result:
                sink.append(f"{child_path}: repeats, but the element allows one")
            if value is not None:
                result[name] = value
            if extra is not None:
                result[f"_{name}"] = extra
    for name, extras in primitive_extras.items():
        if any(extra is not None for extra in extras):
            result[f"_{name}"] = extras
    return result


def _guess(child: etree._Element, name: str) -> ElementInfo:
    simple = child.get("value") is not None and not _children(child)
    return ElementInfo(
        name=name,
        type_name="string" if simple else "Element",
        is_list=False,
        required=False,
        choice_of=None,
    )


def _value(
    child: etree._Element,
    info: ElementInfo,
    path: str,
    structure: Structure,
    sink: list[str],
) -> tuple[Any, dict[str, Any] | None]:
    """The JSON value of one XML element, and for a primitive its ``_name`` object."""
    if info.type_name == "xhtml":
        return etree.tostring(child, encoding="unicode", with_tail=False), None
    if info.type_name == "Resource":
        inner = _children(child)
        if len(inner) != 1:
            sink.append(f"{path}: must hold exactly one resource")
            return ({} if not inner else xml_to_json(inner[0], structure, sink)), None
        return xml_to_json(inner[0], structure, sink), None
    if info.primitive:
        text = child.get("value")
        extra: dict[str, Any] = {}
        if child.get("id") is not None:
            extra["id"] = child.get("id")
        extensions = [
            _complex(ext, "Extension", f"{path}.extension", structure, sink)
            for ext in _children(child)
            if _local(ext) == "extension"
        ]
        if extensions:
            extra["extension"] = extensions
        for other in _children(child):
            if _local(other) != "extension":
                sink.append(f"{path}.{_local(other)}: unknown element")
        if text is None and not extra:
            sink.append(f"{path}: has neither a value nor an extension")
        return (None if text is None else info.json_value(text)), (extra or None)
    return _complex(child, info.type_name, path, structure, sink), None


def json_to_xml(resource: dict[str, Any], structure: Structure) -> etree._Element:
    """A FHIR JSON resource as an XML element in the FHIR namespace."""
    resource_type = str(resource.get("resourceType", "Resource"))
    root = etree.Element(_F + resource_type, nsmap=_NSMAP)
    _fill(root, resource, resource_type, structure)
    return root


def json_to_xml_bytes(resource: dict[str, Any], structure: Structure) -> bytes:
    """:func:`json_to_xml` serialised as UTF-8 with an XML declaration."""
    return bytes(
        etree.tostring(json_to_xml(resource, structure), xml_declaration=True, encoding="UTF-8")
    )


def _fill(target: etree._Element, data: dict[str, Any], type_name: str, s: Structure) -> None:
    order = s.order(type_name)
    names = [name for name in order if name in data or f"_{name}" in data]
    names += [
        name
        for name in data
        if not name.startswith("_") and name not in order and name not in ("resourceType",)
    ]
    names += [
        name[1:]
        for name in data
        if name.startswith("_") and name[1:] not in names and name[1:] not in data
    ]
    for name in names:
        if name == "id" and type_name != "Resource" and not s.is_resource_type(type_name):
            target.set("id", str(data[name]))
            continue
        if name == "url" and type_name == "Extension":
            target.set("url", str(data[name]))
            continue
        info = s.element(type_name, name) or ElementInfo(
            name=name,
            type_name="string" if not isinstance(data.get(name), dict | list) else "Element",
            is_list=isinstance(data.get(name), list),
            required=False,
            choice_of=None,
        )
        values = data.get(name)
        extras = data.get(f"_{name}")
        value_list = values if isinstance(values, list) else [values]
        extra_list = extras if isinstance(extras, list) else [extras]
        for index in range(max(len(value_list), len(extra_list))):
            value = value_list[index] if index < len(value_list) else None
            extra = extra_list[index] if index < len(extra_list) else None
            if value is None and extra is None:
                continue
            _append(target, name, value, extra, info, s)


def _append(
    target: etree._Element,
    name: str,
    value: Any,
    extra: Any,
    info: ElementInfo,
    s: Structure,
) -> None:
    if info.type_name == "xhtml":
        if isinstance(value, str):
            try:
                target.append(parse_xml(value))
            except ValueError:
                child = etree.SubElement(target, f"{{{XHTML_NS}}}div", nsmap=_XHTML_NSMAP)
                child.text = value
        return
    child = etree.SubElement(target, _F + name)
    if info.type_name == "Resource" and isinstance(value, dict):
        child.append(json_to_xml(value, s))
        return
    if info.primitive or not isinstance(value, dict):
        if isinstance(extra, dict):
            if "id" in extra:
                child.set("id", str(extra["id"]))
            for extension in extra.get("extension", []) or []:
                if isinstance(extension, dict):
                    ext = etree.SubElement(child, _F + "extension")
                    _fill(ext, extension, "Extension", s)
        if value is not None:
            child.set("value", _xml_text(value))
        return
    _fill(child, value, info.type_name, s)


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
