"""Keeps every error under `/api/` in the contract's JSON shape, DEBUG on or off.

DRF views already answer through `core.exceptions.api_exception_handler`; this catches what
happens outside them: unmatched URLs (Django's HTML debug 404 with DEBUG on), errors raised by
other middleware, and exceptions from plain Django views.
"""

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.exceptions import SERVICE_RETRY_AFTER, SERVICE_UNAVAILABLE, is_outage, json_error

logger = logging.getLogger("huddle.api")

API_PREFIX = "/api/"

_STATUS_CODES = {
    400: ("malformed", "The request could not be read."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You do not have permission to do this."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Unsupported media type."),
    429: ("rate_limited", "Too many requests; try again later."),
}


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api_request(request) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        code, detail = _STATUS_CODES.get(response.status_code, ("server_error", "Something went wrong."))
        if response.status_code >= 500:
            code, detail = "server_error", "Something went wrong on our side."
        headers = {h: response[h] for h in ("Retry-After", "Allow") if response.has_header(h)}
        return json_error(code, detail, response.status_code, headers)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_request(request):
            return None
        if is_outage(exception):
            logger.error("Redis unavailable: %s", exception)
            return json_error(*SERVICE_UNAVAILABLE, 503, {"Retry-After": SERVICE_RETRY_AFTER})
        logger.error("Unhandled exception in %s %s", request.method, request.path, exc_info=exception)
        return json_error("server_error", "Something went wrong on our side.", 500)
