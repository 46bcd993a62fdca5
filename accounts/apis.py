"""The accounts and friends API (CONTRACT section 3). Views parse, call one service or selector,
and render."""

from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import DeviceToken, User
from accounts.serializers import (
    AvatarInputSerializer,
    BlockInputSerializer,
    BlockSerializer,
    FriendGroupInputSerializer,
    FriendRequestInputSerializer,
    FriendRequestSerializer,
    FriendRequestsSerializer,
    FriendSerializer,
    MeSerializer,
    PasswordChangeInputSerializer,
    ProfileInputSerializer,
    RegisteredSerializer,
    RegisterInputSerializer,
    TokenInputSerializer,
    TokenSerializer,
    UserSearchParamsSerializer,
    UserSerializer,
)
from core.net import client_ip
from core.openapi import AUTH_ERRORS, errors
from core.pagination import page_body, page_serializer, paginate_by_key
from core.throttling import ActionThrottle, RegisterThrottle

UserPageSerializer = page_serializer("UserPage", UserSerializer)


def _context(viewer: User, users: list) -> dict:
    return selectors.user_render_context(viewer, users)


class RegisterApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]

    @extend_schema(
        tags=["accounts"],
        request=RegisterInputSerializer,
        responses={201: RegisteredSerializer, **errors((400, "invalid"), (429, "rate_limited"))},
        summary="Sign up; answers the new user and a token for this device",
    )
    def post(self, request: Request) -> Response:
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        token = services.device_token_create(user=user, user_agent=request.headers.get("User-Agent", ""))
        body = MeSerializer(user, context={"viewer": user}).data
        return Response({**body, "token": token}, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["accounts"],
        request=TokenInputSerializer,
        responses={
            200: TokenSerializer,
            **errors((400, "invalid_credentials"), (400, "invalid"), (429, "rate_limited")),
        },
        summary="Log in: a new token for this device",
        description="After 5 failures for one account within 15 minutes, or 50 from one address, "
        "answers 429 with Retry-After until the window passes.",
    )
    def post(self, request: Request) -> Response:
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.login_with_password(
            **data.validated_data, address=client_ip(request), request=request
        )
        token = services.device_token_create(user=user, user_agent=request.headers.get("User-Agent", ""))
        return Response({"token": token})


class LogoutApi(APIView):
    @extend_schema(
        tags=["accounts"],
        request=None,
        responses={204: OpenApiResponse(description="Logged out"), **errors(*AUTH_ERRORS)},
        summary="Log out: the token used stops working (other devices' tokens do not)",
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, DeviceToken):
            services.device_token_delete(token=request.auth)
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    def get_throttles(self) -> list:
        # Editing the profile counts in the per-user `actions` bucket; reading it does not.
        return [ActionThrottle()] if self.request.method == "PATCH" else []

    @extend_schema(
        tags=["accounts"], responses={200: MeSerializer, **errors(*AUTH_ERRORS)}, summary="Own profile"
    )
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user, context={"viewer": request.user}).data)

    @extend_schema(
        tags=["accounts"],
        request=ProfileInputSerializer,
        responses={200: MeSerializer, **errors((400, "invalid"), (429, "rate_limited"), *AUTH_ERRORS)},
        summary="Change own profile, presence or read receipts",
    )
    def patch(self, request: Request) -> Response:
        data = ProfileInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.profile_update(user=request.user, **data.validated_data)
        return Response(MeSerializer(user, context={"viewer": user}).data)


class PasswordChangeApi(APIView):
    @extend_schema(
        tags=["accounts"],
        request=PasswordChangeInputSerializer,
        responses={
            204: OpenApiResponse(description="Changed"),
            **errors((400, "invalid_credentials"), (400, "invalid"), (429, "rate_limited"), *AUTH_ERRORS),
        },
        summary="Change own password; every other token and browser session stops working",
        description="The token or browser session used stays valid; every other device token is "
        "deleted, every other browser session is logged out, and their open sockets close with "
        "4401. A wrong `old_password` is 400 `invalid_credentials` and counts as a failed login: "
        "while the account or address is locked out (5 failures for the account within 15 "
        "minutes, or 50 from the address) the answer is 429 with Retry-After. The new password "
        "must pass the password rules (400 `invalid` with `fields.new_password`).",
    )
    def post(self, request: Request) -> Response:
        data = PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token = request.auth if isinstance(request.auth, DeviceToken) else None
        services.password_change(
            user=request.user,
            **data.validated_data,
            address=client_ip(request),
            token_id=token.pk if token is not None else None,
            request=request._request,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AvatarApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=["accounts"],
        request={"multipart/form-data": AvatarInputSerializer},
        responses={
            200: MeSerializer,
            **errors((400, "invalid"), (415, "unsupported_media_type"), *AUTH_ERRORS),
        },
        summary="Upload an avatar (PNG, JPEG or WebP, at most 1 MiB)",
    )
    def put(self, request: Request) -> Response:
        user = services.avatar_set(user=request.user, upload=request.FILES.get("avatar"))
        return Response(MeSerializer(user, context={"viewer": user}).data)


class UserDetailApi(APIView):
    @extend_schema(
        tags=["accounts"],
        responses={200: UserSerializer, **errors((404, "not_found"), *AUTH_ERRORS)},
        summary="A public profile by account number",
    )
    def get(self, request: Request, number: int) -> Response:
        user = selectors.user_get_by_number(number)
        return Response(UserSerializer(user, context=_context(request.user, [user])).data)


class UserSearchApi(APIView):
    throttle_classes = [ActionThrottle]

    @extend_schema(
        tags=["accounts"],
        parameters=[
            UserSearchParamsSerializer,
            OpenApiParameter("before", int, description="Cursor: account numbers below this"),
            OpenApiParameter("after", int, description="Cursor: account numbers above this"),
            OpenApiParameter("limit", int, description="1-100, default 50"),
        ],
        responses={200: UserPageSerializer, **errors((400, "invalid"), (429, "rate_limited"), *AUTH_ERRORS)},
        summary="Search people by number, username or display name (newest accounts first)",
        operation_id="users_search",
    )
    def get(self, request: Request) -> Response:
        params = UserSearchParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = paginate_by_key(selectors.users_search(params.validated_data["q"]), request, key="number")
        context = _context(request.user, list(page.items))
        return Response(page_body(page, lambda users: UserSerializer(users, many=True, context=context).data))


class FriendListApi(APIView):
    @extend_schema(
        tags=["friends"],
        responses={200: FriendSerializer(many=True), **errors(*AUTH_ERRORS)},
        summary="Friends",
    )
    def get(self, request: Request) -> Response:
        friendships = list(selectors.friendships_of(request.user))
        context = _context(request.user, [f.friend for f in friendships])
        return Response(FriendSerializer(friendships, many=True, context=context).data)


class FriendDetailApi(APIView):
    @extend_schema(
        tags=["friends"],
        request=FriendGroupInputSerializer,
        responses={200: FriendSerializer, **errors((400, "invalid"), (404, "not_found"), *AUTH_ERRORS)},
        summary="Move a friend to a buddy group",
    )
    def patch(self, request: Request, number: int) -> Response:
        data = FriendGroupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        friendship = services.friend_group_set(user=request.user, number=number, **data.validated_data)
        return Response(
            FriendSerializer(friendship, context=_context(request.user, [friendship.friend])).data
        )

    @extend_schema(
        tags=["friends"],
        responses={
            204: OpenApiResponse(description="Unfriended"),
            **errors((404, "not_found"), *AUTH_ERRORS),
        },
        summary="Unfriend (both sides)",
    )
    def delete(self, request: Request, number: int) -> Response:
        services.friend_remove(user=request.user, number=number)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FriendRequestListApi(APIView):
    @extend_schema(
        tags=["friends"],
        responses={200: FriendRequestsSerializer, **errors(*AUTH_ERRORS)},
        summary="Pending friend requests, incoming and outgoing",
    )
    def get(self, request: Request) -> Response:
        incoming, outgoing = selectors.friend_requests_pending(request.user)
        people = [r.from_user for r in incoming] + [r.to_user for r in outgoing] + [request.user]
        context = _context(request.user, people)
        return Response(
            {
                "incoming": FriendRequestSerializer(incoming, many=True, context=context).data,
                "outgoing": FriendRequestSerializer(outgoing, many=True, context=context).data,
            }
        )

    @extend_schema(
        tags=["friends"],
        request=FriendRequestInputSerializer,
        responses={
            201: FriendRequestSerializer,
            **errors(
                (400, "invalid"),
                (403, "blocked"),
                (404, "not_found"),
                (409, "already_friends"),
                (409, "request_pending"),
                *AUTH_ERRORS,
            ),
        },
        summary="Ask someone to be your friend",
    )
    def post(self, request: Request) -> Response:
        data = FriendRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        friend_request = services.friend_request_send(
            sender=request.user, to_number=data.validated_data["to"], message=data.validated_data["message"]
        )
        context = _context(request.user, [friend_request.to_user])
        return Response(
            FriendRequestSerializer(friend_request, context=context).data, status=status.HTTP_201_CREATED
        )


class FriendRequestAnswerApi(APIView):
    answer = ""

    def post(self, request: Request, request_id: int) -> Response:
        service = (
            services.friend_request_accept if self.answer == "accept" else services.friend_request_decline
        )
        friend_request = service(user=request.user, request_id=request_id)
        context = _context(request.user, [friend_request.from_user])
        return Response(FriendRequestSerializer(friend_request, context=context).data)


_ANSWER_ERRORS = errors((404, "not_found"), (409, "request_not_pending"), *AUTH_ERRORS)


@extend_schema(
    tags=["friends"],
    request=None,
    responses={200: FriendRequestSerializer, **_ANSWER_ERRORS},
    summary="Accept a friend request (its recipient only)",
)
class FriendRequestAcceptApi(FriendRequestAnswerApi):
    answer = "accept"


@extend_schema(
    tags=["friends"],
    request=None,
    responses={200: FriendRequestSerializer, **_ANSWER_ERRORS},
    summary="Decline a friend request (its recipient only)",
)
class FriendRequestDeclineApi(FriendRequestAnswerApi):
    answer = "decline"


class BlockListApi(APIView):
    @extend_schema(
        tags=["friends"],
        responses={200: BlockSerializer(many=True), **errors(*AUTH_ERRORS)},
        summary="Blocked people",
    )
    def get(self, request: Request) -> Response:
        blocks = list(selectors.blocks_of(request.user))
        context = _context(request.user, [b.blocked for b in blocks])
        return Response(BlockSerializer(blocks, many=True, context=context).data)

    @extend_schema(
        tags=["friends"],
        request=BlockInputSerializer,
        responses={
            201: BlockSerializer,
            200: OpenApiResponse(BlockSerializer, description="Already blocked"),
            **errors((400, "invalid"), (404, "not_found"), *AUTH_ERRORS),
        },
        summary="Block someone (also unfriends and closes pending requests)",
    )
    def post(self, request: Request) -> Response:
        data = BlockInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        block, created = services.block_create(user=request.user, number=data.validated_data["user"])
        context = _context(request.user, [block.blocked])
        return Response(
            BlockSerializer(block, context=context).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class BlockDetailApi(APIView):
    @extend_schema(
        tags=["friends"],
        responses={204: OpenApiResponse(description="Unblocked"), **errors((404, "not_found"), *AUTH_ERRORS)},
        summary="Unblock",
    )
    def delete(self, request: Request, number: int) -> Response:
        services.block_delete(user=request.user, number=number)
        return Response(status=status.HTTP_204_NO_CONTENT)
