from django.urls import path

from accounts import web

urlpatterns = [
    path("", web.home, name="home"),
    path("login/", web.HuddleLoginView.as_view(), name="login"),
    path("logout/", web.HuddleLogoutView.as_view(), name="logout"),
    path("register/", web.register, name="register"),
    path("settings/", web.settings_page, name="settings"),
]
