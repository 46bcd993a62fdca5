"""The operators' dashboard page in Django admin (/admin/dashboard/)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from dashboard.figures import CHART_HEIGHT, CHART_WIDTH, dashboard_figures


def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("coins.view_statement"):
        raise PermissionDenied
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "figures": dashboard_figures(),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
    }
    return TemplateResponse(request, "admin/dashboard.html", context)


dashboard_view = admin.site.admin_view(dashboard)
