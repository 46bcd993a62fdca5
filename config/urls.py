from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import web
from core import views as core_views
from dashboard.views import dashboard_view


def avatar_file(request: HttpRequest, path: str) -> HttpResponse:
    """An uploaded avatar. The document root is the avatars folder itself, read at request time:
    `serve` normalises `..` only after the URL matched, so a root of MEDIA_ROOT would let
    `avatars/../x` reach any file under it; outside this root it refuses (400) or finds nothing."""
    return serve(request, path, document_root=Path(settings.MEDIA_ROOT) / "avatars")


urlpatterns = [
    path("admin/dashboard/", dashboard_view, name="admin-dashboard"),
    path("admin/", admin.site.urls),
    # The busiest routes first: Django tries a request's path against each pattern in turn (the
    # apps' routes do not overlap, so the order changes nothing else).
    path("api/v1/", include("messaging.urls")),
    path("api/v1/", include("coins.urls")),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("store.urls")),
    path("api/v1/", include("redpackets.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/(?P<path>.*)$", core_views.api_not_found),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("avatars/default/<id:number>.svg", web.default_avatar, name="default-avatar"),
    # Uploaded avatars: the ASGI app serves its own files, so a single process is a whole site.
    re_path(r"^media/avatars/(?P<path>.+)$", avatar_file, name="avatar-file"),
    path("", include("accounts.web_urls")),
    path("", include("coins.web_urls")),
    path("", include("store.web_urls")),
]

handler404 = "core.web.page_not_found"
handler500 = "core.web.server_error"
