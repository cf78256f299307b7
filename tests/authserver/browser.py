"""A browser without JavaScript: follows redirects by hand, reads HTML forms, posts their fields.

The DVA screens are plain HTML forms (docs/protocol.md#digid-and-the-dva-screens), so a
person's journey is: GET a page, pick the form that holds a given field value
(``action=login``, ``decision=allow``…), fill in what a person would, and submit it as a
browser does. Redirects are followed one by one, so a test sees where the DVA sends the
person, and stops at the first URL outside the DVA (the PGO's redirect URI), which the test
then inspects.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from lxml import html

__all__ = ["Browser", "Form", "Landing", "callback_params"]

_MAX_REDIRECTS = 10


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str]

    def has(self, name: str, value: str | None = None) -> bool:
        return name in self.fields and (value is None or self.fields[name] == value)


@dataclass
class Landing:
    """Where a journey left the DVA, or the page it stopped on."""

    response: httpx.Response
    url: str

    @property
    def location(self) -> str | None:
        return self.response.headers.get("location")


def callback_params(url: str) -> dict[str, str]:
    """The query parameters the DVA put on the PGO's redirect URI (each given once)."""
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


class Browser:
    def __init__(self, client: httpx.Client, dva_origin: str) -> None:
        self.client = client
        self.dva_origin = dva_origin.rstrip("/")

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _inside(self, url: str) -> bool:
        here = urlsplit(url)
        origin = urlsplit(self.dva_origin)
        return (here.scheme, here.netloc) == (origin.scheme, origin.netloc)

    def follow(self, response: httpx.Response) -> Landing:
        """Follow redirects inside the DVA; stop at a page or at a redirect that leaves it."""
        url = str(response.url)
        for _ in range(_MAX_REDIRECTS):
            if response.status_code not in (301, 302, 303, 307, 308):
                return Landing(response, url)
            target = urljoin(url, response.headers["location"])
            if not self._inside(target):
                return Landing(response, target)
            response = self.client.get(target)
            url = target
        raise AssertionError("too many redirects")

    def open(self, url: str) -> Landing:
        return self.follow(self.client.get(url))

    @staticmethod
    def forms(response: httpx.Response) -> list[Form]:
        document = html.fromstring(response.text)
        found = []
        for form in document.forms:
            fields = dict(form.form_values())
            found.append(
                Form(
                    action=form.get("action") or "",
                    method=(form.get("method") or "get").lower(),
                    fields=fields,
                )
            )
        return found

    def form_with(self, landing: Landing, name: str, value: str | None = None) -> Form:
        matches = [f for f in self.forms(landing.response) if f.has(name, value)]
        assert len(matches) == 1, f"one form with {name}={value} expected on {landing.url}"
        return matches[0]

    def submit(self, landing: Landing, form: Form, **fill: str | None) -> Landing:
        """Submit a form as a browser does; ``fill`` sets fields (None removes one)."""
        data = dict(form.fields)
        for name, value in fill.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        target = urljoin(landing.url, form.action)
        assert form.method == "post", form
        return self.follow(self.client.post(target, data=data))

    def choose(self, landing: Landing, name: str, value: str, **fill: str | None) -> Landing:
        """Submit the form that carries ``name=value`` (a hidden field of the choice)."""
        return self.submit(landing, self.form_with(landing, name, value), **fill)

    def journey(
        self,
        authorize_url: str,
        *,
        bsn: str,
        decision: str = "allow",
        langdurig: bool = False,
    ) -> Landing:
        """Landing page → DigiD → toestemming → back to the PGO."""
        landing = self.open(authorize_url)
        assert landing.response.status_code == 200, landing.response.text
        digid = self.choose(landing, "action", "login")
        assert digid.response.status_code == 200, digid.response.text
        consent = self.choose(digid, "action", "login", bsn=bsn)
        if consent.response.status_code != 200 or decision is None:
            return consent
        extra = {"langdurig": "ja"} if langdurig else {}
        return self.choose(consent, "decision", decision, **extra)
