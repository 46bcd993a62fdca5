"""URL helpers: API paths are written without a trailing slash; one with it works too."""

from collections.abc import Callable

from django.urls import URLPattern, path


def api_path(route: str, view: Callable, name: str) -> list[URLPattern]:
    return [path(route, view, name=name), path(f"{route}/", view)]
