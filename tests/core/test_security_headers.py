"""The Content-Security-Policy of the website: scripts, styles and connections only to this site.
In particular `connect-src` is `'self'` alone: with `ws:`/`wss:` an injected script could open a
WebSocket to any host and carry the page's data away."""

import pytest

pytestmark = pytest.mark.django_db


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize("url", ["/login/", "/"])
def test_connections_only_to_this_site(client, url):
    response = client.get(url)

    policy = directives(response["Content-Security-Policy"])
    assert policy["connect-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
