from django.contrib.auth.views import LogoutView
from django.urls import path

from accounts import web

urlpatterns = [
    path("", web.home, name="home"),
    path("login/", web.HuddleLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("register/", web.register, name="register"),
    path("settings/", web.settings_page, name="settings"),
    path("friends/requests/", web.friend_request_send, name="web-friend-request-send"),
    path(
        "friends/requests/<int:request_id>/accept/",
        web.friend_request_accept,
        name="web-friend-request-accept",
    ),
    path(
        "friends/requests/<int:request_id>/decline/",
        web.friend_request_decline,
        name="web-friend-request-decline",
    ),
]
