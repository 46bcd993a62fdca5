"""Forms of the web pages: log in (the website's and the admin's, under the same failed-login limits
as the API), sign up, profile, avatar, password change, friend requests. Labels and messages are
translated (gettext_lazy): the page is in the reader's language (locale/)."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import services
from accounts.errors import InvalidCredentials, LoginLockedOut
from accounts.models import FriendRequest, Presence, User
from accounts.numbers import FIRST_NUMBER
from core.exceptions import ApplicationError
from core.net import client_ip


class LoginForm(AuthenticationForm):
    """Checks the password through services.login_with_password, so its failures count with those of
    `auth/token`, and while locked out even the right password is refused."""

    # Usernames ignore case here (HuddleUserManager), so Django's "both fields may be
    # case-sensitive" would mislead.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Please enter a correct username and password. Passwords are case-sensitive."),
    }

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
                raise forms.ValidationError(lockout_message(exc.retry_after), code="rate_limited") from exc
            except InvalidCredentials as exc:
                raise self.get_invalid_login_error() from exc
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    """`/admin/login/` (admin.site.login_form): the same failed-login limits as every other login,
    and the admin's own rule that only active staff may log in (AdminAuthenticationForm's
    confirm_login_allowed and messages)."""

    error_messages = AdminAuthenticationForm.error_messages


def minutes_from(seconds: float | int | None) -> int:
    """Whole minutes to wait, at least one."""
    return max(1, -(-int(seconds or 0) // 60))


def lockout_message(retry_after: float | int | None) -> str:
    minutes = minutes_from(retry_after)
    return ngettext(
        "Too many failed logins. Try again in about %(minutes)d minute.",
        "Too many failed logins. Try again in about %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


class RegisterForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("Letters, digits and @/./+/-/_ only."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    display_name = forms.CharField(
        label=_("Display name"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
    email = forms.EmailField(
        label=_("Email"),
        required=False,
        help_text=_("Optional and private: receipts are mailed here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
    )

    def save(self) -> User:
        """Create the account through the service, turning its errors into form errors."""
        try:
            return services.user_register(**self.cleaned_data)
        except ApplicationError as exc:
            for field, messages in (exc.fields or {}).items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            raise


PRESENCE_LABELS = {
    Presence.ONLINE: _("Online"),
    Presence.AWAY: _("Away"),
    Presence.BUSY: _("Busy"),
    Presence.INVISIBLE: _("Invisible (appear offline)"),
}


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=64)
    signature = forms.CharField(
        label=_("Signature"),
        max_length=200,
        required=False,
        help_text=_("A line your friends see under your name."),
    )
    email = forms.EmailField(
        label=_("Email for receipts"),
        required=False,
        help_text=_("Optional and private: receipts for coins you buy are mailed here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    presence = forms.ChoiceField(
        label=_("Presence"), choices=[(value, PRESENCE_LABELS[value]) for value in Presence.values]
    )
    read_receipts = forms.BooleanField(
        required=False,
        label=_("Send read receipts"),
        help_text=_("When this is off, others are not told when you have read their messages."),
    )


class AvatarForm(forms.Form):
    avatar = forms.FileField(
        label=_("Avatar image"),
        help_text=_("PNG, JPEG or WebP, at most 1 MiB."),
        widget=forms.FileInput(
            attrs={
                "accept": "image/png,image/jpeg,image/webp",
                "data-max-bytes": str(settings.AVATAR_MAX_BYTES),
            }
        ),
    )


class PasswordChangeForm(forms.Form):
    """The settings page's password change; services.password_change checks the old password
    (as a login, under the same limits) and the new one (Django's validators)."""

    old_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label=_("New password"),
        strip=False,
        help_text=_("At least 8 characters, not a common password and not only digits."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password_confirm = forms.CharField(
        label=_("Confirm new password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        new, confirm = cleaned.get("new_password"), cleaned.get("new_password_confirm")
        if new and confirm and new != confirm:
            self.add_error("new_password_confirm", _("The two new passwords do not match."))
        return cleaned


class FriendRequestForm(forms.Form):
    number = forms.IntegerField(
        label=_("Account number"),
        min_value=FIRST_NUMBER,
        error_messages={
            "required": _("Enter the account number of the person to add."),
            "invalid": _("An account number is a whole number."),
            "min_value": _("Account numbers start at %(limit_value)s."),
        },
    )
    message = forms.CharField(
        max_length=FriendRequest._meta.get_field("message").max_length,
        required=False,
        label=_("Message"),
    )
