from core.routes import api_path
from messaging import apis

urlpatterns = [
    *api_path("conversations", apis.ConversationListApi.as_view(), "conversation-list"),
    *api_path("conversations/direct", apis.DirectConversationApi.as_view(), "conversation-direct"),
    *api_path(
        "conversations/<id:conversation_id>", apis.ConversationDetailApi.as_view(), "conversation-detail"
    ),
    *api_path(
        "conversations/<id:conversation_id>/members",
        apis.MemberListApi.as_view(),
        "conversation-member-list",
    ),
    *api_path(
        "conversations/<id:conversation_id>/members/<id:number>",
        apis.MemberDetailApi.as_view(),
        "conversation-member-detail",
    ),
    *api_path(
        "conversations/<id:conversation_id>/messages", apis.MessageListApi.as_view(), "conversation-messages"
    ),
    *api_path("conversations/<id:conversation_id>/read", apis.ReadApi.as_view(), "conversation-read"),
    *api_path("messages/search", apis.MessageSearchApi.as_view(), "message-search"),
    *api_path("messages/<id:message_id>", apis.MessageDetailApi.as_view(), "message-detail"),
]
