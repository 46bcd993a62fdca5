"""Every error under /api/ has the contract's JSON body (CONTRACT section 2), DEBUG on or off."""

import pytest

from tests.api_helpers import assert_error

pytestmark = pytest.mark.urls("tests.core.urls")


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_path_is_json_404(anon, settings, debug):
    settings.DEBUG = debug
    assert_error(anon.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error(anon.get("/api/v2/"), 404, "not_found")


def test_unknown_page_outside_api_is_html(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_missing_credentials_is_401(anon):
    assert_error(anon.get("/api/v1/me"), 401, "not_authenticated")


def test_bad_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(anon.get("/api/v1/me"), 401, "not_authenticated")


def test_wrong_method_is_405(api):
    body = assert_error(api.delete("/api/v1/me"), 405, "method_not_allowed")
    assert "DELETE" in body["detail"]


def test_unparseable_json_is_400_malformed(api):
    response = api.patch("/api/v1/me", data="{not json", content_type="application/json")
    assert_error(response, 400, "malformed")


def test_wrong_media_type_is_415(api):
    response = api.patch("/api/v1/me", data="display_name=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_validation_error_lists_fields(api):
    body = assert_error(api.patch("/api/v1/me", {"presence": "asleep"}, format="json"), 400, "invalid")
    assert list(body["fields"]) == ["presence"]
    assert body["fields"]["presence"] and all(isinstance(m, str) for m in body["fields"]["presence"])


@pytest.mark.parametrize("debug", [False, True])
def test_crash_in_api_view_is_json_500(api, settings, debug):
    settings.DEBUG = debug
    body = assert_error(api.get("/api/v1/test/crash"), 500, "server_error")
    assert "simulated" not in body["detail"]


@pytest.mark.parametrize("debug", [False, True])
def test_crash_in_plain_view_under_api_is_json_500(client, settings, debug, db):
    settings.DEBUG = debug
    client.raise_request_exception = False
    assert_error(client.get("/api/v1/test/plain-crash"), 500, "server_error")


def test_trailing_slash_also_works(api, user):
    assert api.get("/api/v1/me/").json()["number"] == user.number
