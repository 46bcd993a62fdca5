"""Forms of the web pages: log in (the website's and the admin's, under the same failed-login limits
as the API), sign up, profile, friend requests."""

import math
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from accounts import services
from accounts.errors import InvalidCredentials, LoginLockedOut
from accounts.models import FriendRequest, Presence, User
from accounts.numbers import FIRST_NUMBER
from core.exceptions import ApplicationError
from core.net import client_ip


class LoginForm(AuthenticationForm):
    """Checks the password through services.login_with_password, so its failures count with those of
    `auth/token`, and while locked out even the right password is refused."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password") or ""
        if username and password:
            try:
                self.user_cache = services.login_with_password(
                    username=username,
                    password=password,
                    address=client_ip(self.request),
                    request=self.request,
                )
            except LoginLockedOut as exc:
                minutes = max(1, math.ceil(exc.retry_after / 60))
                raise forms.ValidationError(
                    f"Too many failed logins. Try again in about {minutes} minute(s).", code="rate_limited"
                ) from exc
            except InvalidCredentials as exc:
                raise self.get_invalid_login_error() from exc
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    """`/admin/login/` (admin.site.login_form): the same failed-login limits as every other login,
    and the admin's own rule that only active staff may log in (AdminAuthenticationForm's
    confirm_login_allowed and messages)."""


class RegisterForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    display_name = forms.CharField(max_length=64, required=False)
    email = forms.EmailField(required=False, help_text="Optional and private: receipts are mailed here.")
    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    def save(self) -> User:
        """Create the account through the service, turning its errors into form errors."""
        try:
            return services.user_register(**self.cleaned_data)
        except ApplicationError as exc:
            for field, messages in (exc.fields or {}).items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            raise


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=64)
    signature = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(required=False)
    presence = forms.ChoiceField(choices=Presence.choices)
    read_receipts = forms.BooleanField(required=False, label="Send read receipts")


class AvatarForm(forms.Form):
    avatar = forms.FileField(help_text="PNG, JPEG or WebP, at most 1 MiB.")


class FriendRequestForm(forms.Form):
    number = forms.IntegerField(
        label="Account number",
        min_value=FIRST_NUMBER,
        error_messages={
            "required": "Enter the account number of the person to add.",
            "invalid": "An account number is a whole number.",
            "min_value": "Account numbers start at %(limit_value)s.",
        },
    )
    message = forms.CharField(
        max_length=FriendRequest._meta.get_field("message").max_length, required=False, label="Message"
    )
