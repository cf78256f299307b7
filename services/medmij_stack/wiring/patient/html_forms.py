"""Pages as a browser without JavaScript reads them: the heading, the text, the forms.

A person's browser submits a form's *successful controls* (HTML Living Standard,
"constructing the entry list": https://html.spec.whatwg.org/multipage/form-control-infrastructure.html#constructing-the-form-data-set):
named fields that are not disabled, checkboxes only when checked, every value of a name
in document order. :meth:`HtmlForm.submission` builds exactly that list, so a repeated
name (the PGO's one ``gegevensdienst`` checkbox per gegevensdienst) is sent as often as
it is checked, and a hidden ``csrf_token`` goes along because it is in the form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urljoin

from lxml import html

__all__ = ["Checkbox", "HtmlForm", "Page", "read_page"]


def _text(element: html.HtmlElement | None) -> str:
    """An element's text as shown: whitespace runs collapsed to one space."""
    if element is None:
        return ""
    return " ".join(element.text_content().split())


@dataclass(frozen=True)
class Checkbox:
    name: str
    value: str
    checked: bool  # as the page sends it (checked by default, or not)
    label: str


@dataclass(frozen=True)
class HtmlForm:
    """One form of a page, with its action resolved against the page's URL."""

    action: str
    method: str  # "get" or "post"
    fields: tuple[tuple[str, str], ...]  # the successful controls as the page has them
    checkboxes: tuple[Checkbox, ...] = ()
    names: frozenset[str] = field(default_factory=frozenset)  # every named control
    heading: str = ""  # the nearest heading above the form: what it is about
    button: tuple[str, str] | None = None  # the named submit button a person clicks

    def value(self, name: str) -> str | None:
        """The first value submitted under ``name``, as the page has it."""
        return next((value for key, value in self.fields if key == name), None)

    def has(self, name: str, value: str | None = None) -> bool:
        """Whether the form has a control ``name`` (with ``value``, when given)."""
        if value is None:
            return name in self.names
        return any(k == name and v == value for k, v in self.fields) or any(
            c.name == name and c.value == value for c in self.checkboxes
        )

    def options(self, name: str) -> tuple[Checkbox, ...]:
        return tuple(c for c in self.checkboxes if c.name == name)

    def submission(
        self,
        fill: Mapping[str, str] | None = None,
        *,
        check: Mapping[str, Iterable[str]] | None = None,
    ) -> list[tuple[str, str]]:
        """What the browser sends after a person filled ``fill`` (typed into a field, or a
        field the form lacks, such as an app's own hint) and, per checkbox name in
        ``check``, ticked exactly those values. A value not offered is a ValueError: a
        person cannot tick a box that is not there."""
        fill = dict(fill or {})
        check = {name: list(values) for name, values in (check or {}).items()}
        for name, values in check.items():
            offered = {c.value for c in self.options(name)}
            if not set(values) <= offered:
                missing = ", ".join(sorted(set(values) - offered))
                raise ValueError(f"the form offers no {name} checkbox for {missing}")
        sent: list[tuple[str, str]] = []
        for name, value in self.fields:
            if name in check:
                continue  # re-added below, in document order
            if name in fill:
                sent.append((name, fill.pop(name)))
                continue
            sent.append((name, value))
        for box in self.checkboxes:
            if box.name in check and box.value in check[box.name]:
                sent.append((box.name, box.value))
        sent.extend(fill.items())
        if self.button is not None:
            sent.append(self.button)
        return sent


@dataclass(frozen=True)
class Page:
    """A page as received: where, with which status, its ``h1``, its text and its forms."""

    url: str
    status: int
    title: str
    text: str
    forms: tuple[HtmlForm, ...]
    links: tuple[tuple[str, str], ...]  # (absolute href, link text)
    alerts: tuple[str, ...]  # what the page announces (role="alert"): problems with a form
    notices: tuple[str, ...] = ()  # every announcement (role="alert" or "status")

    def forms_with(self, name: str, value: str | None = None) -> list[HtmlForm]:
        return [form for form in self.forms if form.has(name, value)]

    def form_with(self, name: str, value: str | None = None) -> HtmlForm | None:
        """The one form with that control; None when there is none or more than one."""
        found = self.forms_with(name, value)
        return found[0] if len(found) == 1 else None


def _elements(node: html.HtmlElement, path: str) -> list[html.HtmlElement]:
    found = node.xpath(path)
    return [e for e in found if isinstance(e, html.HtmlElement)] if isinstance(found, list) else []


def _form(form: html.FormElement, page_url: str) -> HtmlForm:
    checkboxes = []
    names = set()
    for control in form.inputs:
        name = control.get("name")
        if not name:
            continue
        names.add(name)
        if control.tag == "input" and (control.get("type") or "").lower() == "checkbox":
            if control.get("disabled") is not None:
                continue
            label = control.label
            if label is None:  # <label><input …> text</label>
                label = next((a for a in control.iterancestors() if a.tag == "label"), None)
            checkboxes.append(
                Checkbox(
                    name=name,
                    value=control.get("value", "on"),
                    checked=control.get("checked") is not None,
                    label=_text(label),
                )
            )
    action = form.get("action") or ""
    # The first submit button, as a person clicks it: sent only when it has a name.
    buttons = _elements(form, ".//button[not(@type) or @type='submit'] | .//input[@type='submit']")
    clicked = buttons[0] if buttons else None
    button = None
    if clicked is not None and clicked.get("name") and clicked.get("disabled") is None:
        button = (str(clicked.get("name")), str(clicked.get("value") or ""))
    above = _elements(form, "preceding::*[self::h1 or self::h2 or self::h3 or self::h4][1]")
    return HtmlForm(
        # An empty or missing action submits to the page itself.
        action=urljoin(page_url, action) if action else page_url,
        method=(form.get("method") or "get").lower(),
        fields=tuple((str(k), str(v)) for k, v in form.form_values()),
        checkboxes=tuple(checkboxes),
        names=frozenset(names),
        heading=_text(above[0]) if above else "",
        button=button,
    )


def read_page(text: str, url: str, status: int) -> Page:
    """Parse an HTML page (lxml.html); an empty or unparsable body is a page without content."""
    try:
        document = cast(html.HtmlElement, html.document_fromstring(text)) if text.strip() else None
    except (ValueError, SyntaxError):  # lxml's ParserError is a ValueError subclass
        document = None
    if document is None:
        return Page(url, status, "", "", (), (), ())
    headings = _elements(document, "//h1")
    main = document.find(".//main")
    body = main if main is not None else document.find(".//body")
    links = tuple(
        (urljoin(url, anchor.get("href", "")), _text(anchor))
        for anchor in document.iterfind(".//a")
        if anchor.get("href")
    )
    alerts = tuple(_text(e) for e in _elements(document, "//*[@role='alert']") if _text(e))
    notices = tuple(
        _text(e) for e in _elements(document, "//*[@role='alert' or @role='status']") if _text(e)
    )
    return Page(
        url=url,
        status=status,
        title=_text(headings[0]) if headings else "",
        text=_text(body),
        forms=tuple(_form(form, url) for form in document.iterfind(".//form")),
        links=links,
        alerts=alerts,
        notices=notices,
    )
