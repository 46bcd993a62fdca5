"""core.middleware.CSPMiddleware builds the site-wide policy once; it must answer exactly as
django-csp's own middleware does, whatever the settings and the response."""

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE
from csp.decorators import csp_exempt, csp_update
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from core.middleware import CSPMiddleware

REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'none'"], "report-uri": "/csp-report"}}


def both(
    path: str = "/", make_response=lambda: HttpResponse("ok"), use_nonce: bool = False
) -> tuple[dict, dict]:
    """The CSP headers each middleware gives the same request and response."""
    answers = []
    for middleware_class in (DjangoCSPMiddleware, CSPMiddleware):
        request = RequestFactory().get(path)
        middleware = middleware_class(lambda request: make_response())
        middleware.process_request(request)
        if use_nonce:
            str(request.csp_nonce)
        response = middleware.process_response(request, make_response())
        answers.append({name: response.get(name) for name in (HEADER, HEADER_REPORT_ONLY)})
    return answers[0], answers[1]


def test_the_site_policy_is_django_csps() -> None:
    theirs, ours = both()
    assert ours == theirs
    assert "connect-src 'self'" in ours[HEADER]


def test_a_settings_change_is_followed(settings) -> None:
    both()  # builds and keeps the policy
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'", "cdn.example"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = REPORT_ONLY

    theirs, ours = both()

    assert ours == theirs
    assert ours[HEADER] == "default-src 'self' cdn.example"
    assert ours[HEADER_REPORT_ONLY].startswith("default-src 'none'")


def test_excluded_prefixes_and_exempt_responses_get_no_policy(settings) -> None:
    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "EXCLUDE_URL_PREFIXES": ["/free/"],
    }

    assert both("/free/page") == ({HEADER: None, HEADER_REPORT_ONLY: None},) * 2
    exempt = csp_exempt()(lambda request: HttpResponse("ok"))
    assert both(make_response=lambda: exempt(None)) == ({HEADER: None, HEADER_REPORT_ONLY: None},) * 2


def test_a_response_that_set_its_own_header_keeps_it() -> None:
    def own() -> HttpResponse:
        response = HttpResponse("ok")
        response[HEADER] = "default-src 'none'"
        return response

    theirs, ours = both(make_response=own)
    assert ours == theirs == {HEADER: "default-src 'none'", HEADER_REPORT_ONLY: None}


@pytest.mark.parametrize("case", ["decorated", "nonce"])
def test_per_response_policies_are_django_csps(case: str, settings) -> None:
    updated = csp_update({"img-src": ["images.example"]})(lambda request: HttpResponse("ok"))
    if case == "decorated":
        theirs, ours = both(make_response=lambda: updated(None))
        assert "images.example" in ours[HEADER]
        assert ours == theirs
    else:
        settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": ["'self'", NONCE]}}
        theirs, ours = both(use_nonce=True)
        assert "'nonce-" in ours[HEADER] and "'nonce-" in theirs[HEADER]
        strip = lambda header: " ".join(w for w in header.split() if not w.startswith("'nonce-"))  # noqa: E731
        assert strip(ours[HEADER]) == strip(theirs[HEADER])
