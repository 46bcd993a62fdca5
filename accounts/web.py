"""Web pages: welcome/home (the chat page's shell and initial data), friend requests by form, sign
up, log in and out, settings (profile, avatar, password). Every change goes through
accounts.services; its errors come back as form errors or flash messages, in the reader's language
where the catalogue has them (service_message)."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, gettext_noop, ngettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.avatars import default_avatar_svg
from accounts.errors import InvalidCredentials, LoginLockedOut
from accounts.forms import (
    AvatarForm,
    FriendRequestForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RegisterForm,
    lockout_message,
    minutes_from,
)
from accounts.models import User
from accounts.serializers import FriendRequestSerializer, FriendSerializer, MeSerializer
from core.exceptions import ApplicationError, InvalidInput, RateLimited
from core.net import client_ip
from core.throttling import rate_check

# The composer's limit: a text message's body holds at most this many characters (CONTRACT
# section 4). Kept here, not imported from messaging: accounts sits below messaging in the layers.
MESSAGE_BODY_MAX = 4000

# The services speak English (the API's `detail`); these are the messages of theirs the website
# shows, marked so makemessages puts them in the catalogue and service_message can translate them.
SERVICE_MESSAGES = (
    gettext_noop("No user has this number."),
    gettext_noop("You cannot befriend yourself."),
    gettext_noop("You cannot do this with this person."),
    gettext_noop("You are already friends."),
    gettext_noop("A friend request between you is already waiting for an answer."),
    gettext_noop("No such friend request."),
    gettext_noop("This friend request was already answered."),
    gettext_noop("This username is already taken."),
    gettext_noop("No file was submitted."),
    gettext_noop("The file is larger than 1 MiB."),
    gettext_noop("Not a readable image."),
    gettext_noop("At most 4096x4096 pixels."),
)


def service_message(message: str) -> str:
    """A service's English message in the reader's language, when the catalogue has it."""
    return gettext(str(message))


def home(request: HttpRequest) -> HttpResponse:
    """The welcome page, or for a logged-in person the chat: a page shell whose modules
    (static/js/chat/) render it from the initial data below and then live on the HTTP API and the
    socket. The data has the API's own shapes (me, friends, pending requests), so the page treats
    it exactly like a later `GET me` / `friends` / `friends/requests`."""
    if not request.user.is_authenticated:
        return render(request, "home/welcome.html")
    user = request.user
    friendships = list(selectors.friendships_of(user))
    incoming, outgoing = selectors.friend_requests_pending(user)
    people = [f.friend for f in friendships] + [r.from_user for r in incoming] + [r.to_user for r in outgoing]
    context = selectors.user_render_context(user, [*people, user])
    chat_data = {
        "me": MeSerializer(user, context={"viewer": user}).data,
        "friends": FriendSerializer(friendships, many=True, context=context).data,
        "requests": {
            "incoming": FriendRequestSerializer(incoming, many=True, context=context).data,
            "outgoing": FriendRequestSerializer(outgoing, many=True, context=context).data,
        },
        "csrf_token": get_token(request),
        "body_max": MESSAGE_BODY_MAX,
        "urls": {
            "api": "/api/v1/",
            "socket": "/ws/",
            "login": reverse("login"),
            # "{number}" is replaced by the page (avatars of people known only by number).
            "default_avatar": reverse("default-avatar", args=[10000]).replace("10000", "{number}"),
        },
    }
    return render(request, "home/chat.html", {"chat_data": chat_data})


@login_required
@require_POST
def friend_request_send(request: HttpRequest) -> HttpResponse:
    form = FriendRequestForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("home")
    try:
        sent = services.friend_request_send(
            sender=request.user, to_number=form.cleaned_data["number"], message=form.cleaned_data["message"]
        )
    except ApplicationError as exc:
        messages.error(request, service_message(exc.detail))
    else:
        messages.success(
            request,
            gettext("Friend request sent to %(name)s (#%(number)s).")
            % {"name": sent.to_user.display_name, "number": sent.to_user.number},
        )
    return redirect("home")


@login_required
@require_POST
def friend_request_accept(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        accepted = services.friend_request_accept(user=request.user, request_id=request_id)
    except ApplicationError as exc:
        messages.error(request, service_message(exc.detail))
    else:
        messages.success(
            request, gettext("You and %(name)s are now friends.") % {"name": accepted.from_user.display_name}
        )
    return redirect("home")


@login_required
@require_POST
def friend_request_decline(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        declined = services.friend_request_decline(user=request.user, request_id=request_id)
    except ApplicationError as exc:
        messages.error(request, service_message(exc.detail))
    else:
        messages.info(
            request,
            gettext("You declined the request from %(name)s.") % {"name": declined.from_user.display_name},
        )
    return redirect("home")


class HuddleLoginView(LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Sign up; every POST counts in the sign-up limit of `auth/register` (429 with the form)."""
    if request.user.is_authenticated:
        return redirect("home")
    form = RegisterForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        try:
            # The sign-up limit of auth/register (core.throttling.RegisterThrottle): one bucket.
            rate_check("register", f"ip:{client_ip(request)}")
        except RateLimited as exc:
            minutes = minutes_from(exc.retry_after)
            form.add_error(
                None,
                ngettext(
                    "Too many sign-ups from your network. Try again in about %(minutes)d minute.",
                    "Too many sign-ups from your network. Try again in about %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes},
            )
            response = render(request, "accounts/register.html", {"form": form}, status=429)
            response["Retry-After"] = (exc.headers or {}).get("Retry-After", str(minutes * 60))
            return response
    if request.method == "POST" and form.is_valid():
        try:
            user = form.save()
        except ApplicationError:
            pass
        else:
            login(request, user)
            messages.success(
                request,
                gettext("Welcome to Huddle! Your account number is %(number)s.") % {"number": user.number},
            )
            return redirect("home")
    return render(request, "accounts/register.html", {"form": form})


SETTINGS_FORMS = ("profile", "avatar", "password")


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """Profile, avatar and password: three forms on one page, told apart by their hidden `form`
    field (a profile edit may omit it). A form that fails is shown again with its errors, the
    others fresh; one that succeeds redirects here with a message."""
    user = request.user
    initial = {
        f: getattr(user, f) for f in ("display_name", "signature", "email", "presence", "read_receipts")
    }
    forms = {
        "profile_form": ProfileForm(initial=initial),
        "avatar_form": AvatarForm(),
        "password_form": PasswordChangeForm(),
    }
    if request.method == "POST":
        # The avatar form says which it is, so submitting it without a file is not a profile edit.
        which = request.POST.get("form") or ("avatar" if "avatar" in request.FILES else "profile")
        if which not in SETTINGS_FORMS:
            which = "profile"
        handler = {"profile": _profile_save, "avatar": _avatar_save, "password": _password_save}[which]
        done, form = handler(request)
        if done:
            return redirect("settings")
        forms[f"{which}_form"] = form
    return render(request, "accounts/settings.html", forms)


def _profile_save(request: HttpRequest) -> tuple[bool, ProfileForm]:
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return False, form
    try:
        services.profile_update(user=request.user, **form.cleaned_data)
    except InvalidInput as exc:
        _add_service_errors(form, exc)
        return False, form
    messages.success(request, gettext("Your profile was saved."))
    return True, form


def _avatar_save(request: HttpRequest) -> tuple[bool, AvatarForm]:
    form = AvatarForm(request.POST, request.FILES)
    if not form.is_valid():
        return False, form
    try:
        services.avatar_set(user=request.user, upload=form.cleaned_data["avatar"])
    except ApplicationError as exc:
        form.add_error("avatar", service_message((exc.fields or {}).get("avatar", [exc.detail])[0]))
        return False, form
    messages.success(request, gettext("Your avatar was updated."))
    return True, form


def _password_save(request: HttpRequest) -> tuple[bool, PasswordChangeForm]:
    """Through services.password_change: this browser stays logged in (its session is rotated),
    every other session and token of the user ends and their sockets close."""
    form = PasswordChangeForm(request.POST)
    if not form.is_valid():
        return False, form
    try:
        services.password_change(
            user=request.user,
            old_password=form.cleaned_data["old_password"],
            new_password=form.cleaned_data["new_password"],
            address=client_ip(request),
            request=request,
        )
    except LoginLockedOut as exc:
        form.add_error(None, lockout_message(exc.retry_after))
        return False, form
    except InvalidCredentials:
        form.add_error("old_password", gettext("Your current password is not correct."))
        return False, form
    except InvalidInput as exc:
        _add_service_errors(form, exc)
        return False, form
    messages.success(
        request, gettext("Your password was changed. Your other browsers and devices were logged out.")
    )
    return True, form


def _add_service_errors(form: Form, exc: ApplicationError) -> None:
    """A service's field errors onto the form (unknown fields as errors of the whole form)."""
    fields = exc.fields or {}
    for field, errors in fields.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, service_message(error))
    if not fields:
        form.add_error(None, service_message(exc.detail))


@cache_control(max_age=3600, public=True)
def default_avatar(request: HttpRequest, number: int) -> HttpResponse:
    user = User.objects.filter(number=number).only("display_name", "username").first()
    name = (user.display_name or user.username) if user else "?"
    return HttpResponse(default_avatar_svg(number, name), content_type="image/svg+xml")
