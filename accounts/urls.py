from accounts import apis
from core.routes import api_path

urlpatterns = [
    *api_path("auth/register", apis.RegisterApi.as_view(), "auth-register"),
    *api_path("auth/token", apis.TokenApi.as_view(), "auth-token"),
    *api_path("auth/logout", apis.LogoutApi.as_view(), "auth-logout"),
    *api_path("me", apis.MeApi.as_view(), "me"),
    *api_path("me/password", apis.PasswordChangeApi.as_view(), "me-password"),
    *api_path("me/avatar", apis.AvatarApi.as_view(), "me-avatar"),
    *api_path("users", apis.UserSearchApi.as_view(), "user-search"),
    *api_path("users/<id:number>", apis.UserDetailApi.as_view(), "user-detail"),
    *api_path("friends", apis.FriendListApi.as_view(), "friend-list"),
    *api_path("friends/requests", apis.FriendRequestListApi.as_view(), "friend-request-list"),
    *api_path(
        "friends/requests/<id:request_id>/accept",
        apis.FriendRequestAcceptApi.as_view(),
        "friend-request-accept",
    ),
    *api_path(
        "friends/requests/<id:request_id>/decline",
        apis.FriendRequestDeclineApi.as_view(),
        "friend-request-decline",
    ),
    *api_path("friends/<id:number>", apis.FriendDetailApi.as_view(), "friend-detail"),
    *api_path("blocks", apis.BlockListApi.as_view(), "block-list"),
    *api_path("blocks/<id:number>", apis.BlockDetailApi.as_view(), "block-detail"),
]
