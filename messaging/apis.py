"""The conversations and messages API (CONTRACT section 4). Views parse, call one service or
selector, and render; everything posted here reaches the members' sockets as well."""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import AUTH_ERRORS, errors
from core.pagination import cursor_params, page_body, page_serializer, paginate_by_key
from core.throttling import ActionThrottle, MessageThrottle
from messaging import conversations, selectors, services
from messaging.rendering import message_payload, message_rows_payload, messages_payload
from messaging.serializers import (
    ConversationPatchSerializer,
    ConversationSerializer,
    DirectInputSerializer,
    EditInputSerializer,
    GroupInputSerializer,
    MemberSerializer,
    MembersInputSerializer,
    MessageInputSerializer,
    MessageSerializer,
    ReadInputSerializer,
    RoleInputSerializer,
    SearchParamsSerializer,
)

MessagePageSerializer = page_serializer("MessagePage", MessageSerializer)
TAGS = ["messaging"]
NOT_FOUND = (404, "not_found")
INVALID = (400, "invalid")
CURSOR_PARAMETERS = [
    OpenApiParameter("before", int, description="Cursor: messages with smaller ids"),
    OpenApiParameter("after", int, description="Cursor: messages with larger ids"),
    OpenApiParameter("limit", int, description="1-100, default 50"),
]


def _conversation(request: Request, conversation_id: int) -> dict:
    view = selectors.conversation_view(user=request.user, conversation_id=conversation_id)
    return selectors.conversation_payload(view)


def _members(request: Request, conversation_id: int) -> list:
    members, context = selectors.conversation_members(user=request.user, conversation_id=conversation_id)
    return MemberSerializer(members, many=True, context=context).data


class ConversationListApi(APIView):
    @extend_schema(
        tags=TAGS,
        responses={200: ConversationSerializer(many=True), **errors(*AUTH_ERRORS)},
        summary="My conversations, most recent activity first, with unread counts",
    )
    def get(self, request: Request) -> HttpResponse:
        # The JSON text comes ready-made (on PostgreSQL from the database): passed through as is.
        return HttpResponse(selectors.conversation_list_json(request.user), content_type="application/json")

    @extend_schema(
        tags=TAGS,
        request=GroupInputSerializer,
        responses={
            201: ConversationSerializer,
            **errors(INVALID, (400, "group_full"), (403, "not_friends"), *AUTH_ERRORS),
        },
        summary="Create a group with friends (the caller is its owner; at most 500 members)",
    )
    def post(self, request: Request) -> Response:
        data = GroupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversations.conversation_group_create(
            user=request.user,
            title=data.validated_data["title"],
            member_numbers=data.validated_data["members"],
        )
        return Response(_conversation(request, conversation.pk), status=status.HTTP_201_CREATED)


class DirectConversationApi(APIView):
    @extend_schema(
        tags=TAGS,
        request=DirectInputSerializer,
        responses={
            201: ConversationSerializer,
            200: OpenApiResponse(ConversationSerializer, description="It already existed"),
            **errors(INVALID, (403, "not_friends"), (403, "blocked"), NOT_FOUND, *AUTH_ERRORS),
        },
        summary="Open the one direct conversation with a friend",
        description="`blocked` wins over `not_friends` when both apply.",
    )
    def post(self, request: Request) -> Response:
        data = DirectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation, created = conversations.conversation_direct_open(
            user=request.user, number=data.validated_data["user"]
        )
        return Response(
            _conversation(request, conversation.pk),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ConversationDetailApi(APIView):
    @extend_schema(
        tags=TAGS,
        responses={200: ConversationSerializer, **errors(NOT_FOUND, *AUTH_ERRORS)},
        summary="One of my conversations",
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        return Response(_conversation(request, conversation_id))

    @extend_schema(
        tags=TAGS,
        request=ConversationPatchSerializer,
        responses={
            200: ConversationSerializer,
            **errors(INVALID, (400, "not_a_group"), (403, "permission_denied"), NOT_FOUND, *AUTH_ERRORS),
        },
        summary="Rename a group (owner/admins) or mute a conversation for myself",
    )
    def patch(self, request: Request, conversation_id: int) -> Response:
        data = ConversationPatchSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        conversations.conversation_update(
            user=request.user, conversation_id=conversation_id, **data.validated_data
        )
        return Response(_conversation(request, conversation_id))


class MemberListApi(APIView):
    @extend_schema(
        tags=TAGS,
        responses={200: MemberSerializer(many=True), **errors(NOT_FOUND, *AUTH_ERRORS)},
        summary="Members: owner, then admins, then members",
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        return Response(_members(request, conversation_id))

    @extend_schema(
        tags=TAGS,
        request=MembersInputSerializer,
        responses={
            200: OpenApiResponse(MemberSerializer(many=True), description="All members afterwards"),
            **errors(
                INVALID,
                (400, "group_full"),
                (400, "not_a_group"),
                (403, "not_friends"),
                (403, "permission_denied"),
                NOT_FOUND,
                *AUTH_ERRORS,
            ),
        },
        summary="Add friends to a group (owner/admins); people already in it are skipped",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        data = MembersInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversations.members_add(
            user=request.user, conversation_id=conversation_id, numbers=data.validated_data["members"]
        )
        return Response(_members(request, conversation_id))


class MemberDetailApi(APIView):
    @extend_schema(
        tags=TAGS,
        request=RoleInputSerializer,
        responses={
            200: MemberSerializer,
            **errors(INVALID, (400, "not_a_group"), (403, "permission_denied"), NOT_FOUND, *AUTH_ERRORS),
        },
        summary="Set a member's role (the owner only)",
    )
    def patch(self, request: Request, conversation_id: int, number: int) -> Response:
        data = RoleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = conversations.member_role_set(
            user=request.user,
            conversation_id=conversation_id,
            number=number,
            role=data.validated_data["role"],
        )
        members, context = selectors.conversation_members(user=request.user, conversation_id=conversation_id)
        member = next(m for m in members if m.pk == member.pk)
        return Response(MemberSerializer(member, context=context).data)

    @extend_schema(
        tags=TAGS,
        responses={
            204: OpenApiResponse(description="Removed"),
            **errors((400, "not_a_group"), (403, "permission_denied"), NOT_FOUND, *AUTH_ERRORS),
        },
        summary="Remove a member (owner/admins), or leave (your own number)",
    )
    def delete(self, request: Request, conversation_id: int, number: int) -> Response:
        conversations.member_remove(user=request.user, conversation_id=conversation_id, number=number)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageListApi(APIView):
    def get_throttles(self) -> list:
        return [MessageThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        tags=TAGS,
        parameters=CURSOR_PARAMETERS,
        responses={200: MessagePageSerializer, **errors(INVALID, NOT_FOUND, *AUTH_ERRORS)},
        summary="History, ascending by id; without a cursor the newest `limit` messages",
        description="A group member sees the messages said since they (last) joined.",
    )
    def get(self, request: Request, conversation_id: int) -> HttpResponse:
        if selectors.history_page_in_database():
            # The JSON text comes ready-made from the database: passed through as is.
            page_json = selectors.message_history_page_json(
                user=request.user, conversation_id=conversation_id, **cursor_params(request)
            )
            return HttpResponse(page_json, content_type="application/json")
        rows = selectors.message_history_rows(user=request.user, conversation_id=conversation_id)
        page = paginate_by_key(rows, request, newest_first=False)
        return Response(page_body(page, message_rows_payload))

    @extend_schema(
        tags=TAGS,
        request=MessageInputSerializer,
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(MessageSerializer, description="A repeated client_id: the first message"),
            **errors(
                INVALID,
                (403, "blocked"),
                (403, "not_friends"),
                NOT_FOUND,
                (429, "rate_limited"),
                *AUTH_ERRORS,
            ),
        },
        summary="Send a text or sticker message",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        data = MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = services.message_send(
            sender=request.user, conversation_id=conversation_id, **data.validated_data
        )
        return Response(
            message_payload(message), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ReadApi(APIView):
    throttle_classes = [ActionThrottle]

    @extend_schema(
        tags=TAGS,
        request=ReadInputSerializer,
        responses={
            204: OpenApiResponse(description="Marker moved (never backwards)"),
            **errors(INVALID, NOT_FOUND, (429, "rate_limited"), *AUTH_ERRORS),
        },
        summary="Move my read marker",
        description="Members get a `read` event on their sockets if your read receipts are on.",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        data = ReadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.conversation_read(
            user=request.user, conversation_id=conversation_id, up_to=data.validated_data["up_to"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageDetailApi(APIView):
    # Edits and recalls count against the sender's message rate limit (CONTRACT section 4).
    throttle_classes = [MessageThrottle]

    @extend_schema(
        tags=TAGS,
        request=EditInputSerializer,
        responses={
            200: MessageSerializer,
            **errors(
                INVALID,
                (400, "not_editable"),
                (403, "blocked"),
                (403, "not_friends"),
                (403, "permission_denied"),
                NOT_FOUND,
                (429, "rate_limited"),
                *AUTH_ERRORS,
            ),
        },
        summary="Edit my own text message",
        description="Follows the sending rules of the conversation: in a direct one, `blocked` "
        "(either way) or `not_friends` refuse it, `blocked` winning.",
    )
    def patch(self, request: Request, message_id: int) -> Response:
        data = EditInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_edit(
            user=request.user, message_id=message_id, body=data.validated_data["body"]
        )
        return Response(message_payload(message))

    @extend_schema(
        tags=TAGS,
        responses={
            204: OpenApiResponse(description="Recalled"),
            **errors(
                (403, "recall_window_passed"),
                (403, "permission_denied"),
                (409, "not_recallable"),
                NOT_FOUND,
                (429, "rate_limited"),
                *AUTH_ERRORS,
            ),
        },
        summary="Recall a message: the sender within 2 minutes, group owner/admins any time",
        description="A red packet's message cannot be recalled (409 `not_recallable`): its card is "
        "how members claim it, and what is left goes back to the sender when it expires.",
    )
    def delete(self, request: Request, message_id: int) -> Response:
        services.message_recall(user=request.user, message_id=message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageSearchApi(APIView):
    throttle_classes = [ActionThrottle]

    @extend_schema(
        tags=TAGS,
        parameters=[SearchParamsSerializer, *CURSOR_PARAMETERS],
        responses={
            200: MessagePageSerializer,
            **errors(INVALID, NOT_FOUND, (429, "rate_limited"), *AUTH_ERRORS),
        },
        summary="Search my conversations' messages (case-insensitive substring), newest first",
        description="In a group, only messages said since you (last) joined.",
    )
    def get(self, request: Request) -> Response:
        params = SearchParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        messages = selectors.message_search(
            user=request.user,
            query=params.validated_data["q"],
            conversation_id=params.validated_data.get("conversation"),
        )
        page = paginate_by_key(messages, request, newest_first=True)
        return Response(page_body(page, messages_payload))
