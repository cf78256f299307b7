"""The authorisation server's /metrics: its OAuth endpoints counted by status and timed.

Served on the back channel, without a node certificate (a scraper is no MedMij node), with
no code, token, client secret or person in it.
"""

from __future__ import annotations

import re

from .conftest import TestWorld


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text ``text``; 0 when it is not there."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(tw: TestWorld) -> str:
    with tw.client(None) as scraper:  # no client certificate
        response = scraper.get(f"{tw.back_url()}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_a_refused_token_request_is_counted_and_timed(tw: TestWorld) -> None:
    before = scrape(tw)
    pgo = next(p.hostname for p in tw.world.pgo)
    with tw.client(pgo) as client:
        response = client.post(
            tw.token_url(),
            data={
                "grant_type": "authorization_code",
                "code": "not-a-code-of-ours",
                "redirect_uri": f"https://{pgo}/cb",
                "client_id": pgo,
            },
        )
    assert response.status_code == 400
    after = scrape(tw)
    name = "medmij_authserver_requests_total"
    assert sample(after, name, endpoint="token", status="400") == (
        sample(before, name, endpoint="token", status="400") + 1
    )
    histogram = "medmij_authserver_request_duration_seconds_count"
    assert (
        sample(after, histogram, endpoint="token")
        == sample(before, histogram, endpoint="token") + 1
    )
    assert "not-a-code-of-ours" not in after


def test_the_front_channel_counts_into_the_same_registry(tw: TestWorld) -> None:
    before = scrape(tw)
    with tw.client(None) as browser:
        browser.get(f"{tw.front_url()}/oauth/authorize")  # no parameters: refused
    after = scrape(tw)
    total = "medmij_authserver_requests_total"

    def authorize(text: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(total + "{") and 'endpoint="authorize"' in line
        )

    assert authorize(after) == authorize(before) + 1
    for bsn, _ in tw.persons():
        assert bsn not in after
