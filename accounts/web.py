"""Web pages: welcome/home (the chat page's shell and initial data), friend requests by form, sign
up, log in and out, settings (profile and avatar). Every change goes through accounts.services; its
errors come back as flash messages."""

import math

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.avatars import default_avatar_svg
from accounts.forms import AvatarForm, FriendRequestForm, LoginForm, ProfileForm, RegisterForm
from accounts.models import User
from accounts.serializers import FriendRequestSerializer, FriendSerializer, MeSerializer
from core.exceptions import ApplicationError, RateLimited
from core.net import client_ip
from core.throttling import rate_check

# The composer's limit: a text message's body holds at most this many characters (CONTRACT
# section 4). Kept here, not imported from messaging: accounts sits below messaging in the layers.
MESSAGE_BODY_MAX = 4000


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
        messages.error(request, exc.detail)
    else:
        messages.success(
            request, f"Friend request sent to {sent.to_user.display_name} (#{sent.to_user.number})."
        )
    return redirect("home")


@login_required
@require_POST
def friend_request_accept(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        accepted = services.friend_request_accept(user=request.user, request_id=request_id)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"You and {accepted.from_user.display_name} are now friends.")
    return redirect("home")


@login_required
@require_POST
def friend_request_decline(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        declined = services.friend_request_decline(user=request.user, request_id=request_id)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.info(request, f"You declined the request from {declined.from_user.display_name}.")
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
            minutes = max(1, math.ceil(exc.retry_after / 60))
            form.add_error(
                None, f"Too many sign-ups from your network. Try again in about {minutes} minute(s)."
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
            messages.success(request, f"Welcome to Huddle! Your account number is {user.number}.")
            return redirect("home")
    return render(request, "accounts/register.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {
        f: getattr(user, f) for f in ("display_name", "signature", "email", "presence", "read_receipts")
    }
    profile_form = ProfileForm(initial=initial)
    avatar_form = AvatarForm()
    # The avatar form says which it is, so submitting it without a file is not taken for a profile edit.
    if request.method == "POST" and ("avatar" in request.FILES or request.POST.get("form") == "avatar"):
        avatar_form = AvatarForm(request.POST, request.FILES)
        if avatar_form.is_valid():
            try:
                services.avatar_set(user=user, upload=avatar_form.cleaned_data["avatar"])
            except ApplicationError as exc:
                avatar_form.add_error("avatar", (exc.fields or {}).get("avatar", [exc.detail])[0])
            else:
                messages.success(request, "Your avatar was updated.")
                return redirect("settings")
    elif request.method == "POST":
        profile_form = ProfileForm(request.POST)
        if profile_form.is_valid():
            services.profile_update(user=user, **profile_form.cleaned_data)
            messages.success(request, "Your profile was saved.")
            return redirect("settings")
    return render(
        request, "accounts/settings.html", {"profile_form": profile_form, "avatar_form": avatar_form}
    )


@cache_control(max_age=3600, public=True)
def default_avatar(request: HttpRequest, number: int) -> HttpResponse:
    user = User.objects.filter(number=number).only("display_name", "username").first()
    name = (user.display_name or user.username) if user else "?"
    return HttpResponse(default_avatar_svg(number, name), content_type="image/svg+xml")
