"""Keeps every error under `/api/` in the contract's JSON shape, DEBUG on or off.

DRF views already answer through `core.exceptions.api_exception_handler`; this catches what
happens outside them: unmatched URLs (Django's HTML debug 404 with DEBUG on), errors raised by
other middleware, and exceptions from plain Django views.

Both middleware here are sync- and async-capable (Django's "Asynchronous support" for middleware):
a sync-only middleware in the stack makes Django hop between the event loop and a thread around it
on every request (PITFALLS: a sync-only middleware costs every request; docs/PERFORMANCE.md).
"""

import functools
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import csp.constants
import csp.middleware
from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from csp.utils import build_policy as csp_build_policy
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware

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
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        return self.as_contract_error(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return self.as_contract_error(request, await self.get_response(request))

    @staticmethod
    def as_contract_error(request: HttpRequest, response: HttpResponse) -> HttpResponse:
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
            logger.error("service unavailable: %s", exception)
            return json_error(*SERVICE_UNAVAILABLE, 503, {"Retry-After": SERVICE_RETRY_AFTER})
        if isinstance(exception, RequestDataTooBig):
            # A body past DATA_UPLOAD_MAX_MEMORY_SIZE: the client's mistake, not a server error.
            return json_error(*_STATUS_CODES[413], 413)
        if isinstance(exception, SuspiciousOperation):  # e.g. too many form fields
            logger.warning("Refused %s %s: %s", request.method, request.path, exception)
            return json_error(*_STATUS_CODES[400], 400)
        logger.error("Unhandled exception in %s %s", request.method, request.path, exc_info=exception)
        return json_error("server_error", "Something went wrong on our side.", 500)


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise's middleware, also async-capable (WhiteNoise 6 is sync-only).

    A request for a static file is answered from WhiteNoise's index (the file's headers and
    opening it run in a thread, as they touch the disk); any other request goes on without a hop.
    With WHITENOISE_AUTOREFRESH (DEBUG) the lookup itself reads the disk, so it runs in a thread.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(get_response, **kwargs)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


# The attributes django-csp's decorators set on a response to change its policy.
_CSP_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


@functools.cache
def _site_csp_policies() -> tuple[str, str]:
    """The site-wide policy and report-only policy, as django-csp builds them from the settings."""
    return csp_build_policy(), csp_build_policy(report_only=True)


@receiver(setting_changed)
def _csp_settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _site_csp_policies.cache_clear()


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware with the site-wide policy built once rather than on every response
    (building it took about a twentieth of a coin transfer's CPU). A response that a django-csp
    decorator changed, or a page that used a nonce, gets django-csp's own per-response policy."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in _CSP_PER_RESPONSE
        ):
            return super().process_response(request, response)
        if (
            response.status_code in (HTTPStatus.INTERNAL_SERVER_ERROR, HTTPStatus.NOT_FOUND)
            and settings.DEBUG
        ):
            return response  # Django's debug pages, as django-csp leaves them
        policy, report_only = _site_csp_policies()
        for header, value, setting, exempt in (
            (csp.constants.HEADER, policy, "CONTENT_SECURITY_POLICY", "_csp_exempt"),
            (
                csp.constants.HEADER_REPORT_ONLY,
                report_only,
                "CONTENT_SECURITY_POLICY_REPORT_ONLY",
                "_csp_exempt_ro",
            ),
        ):
            if not value or header in response or getattr(response, exempt, False):
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = value
        if getattr(request, "_csp_nonce", None) is None:
            request.csp_nonce = csp.middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response
