"""Assertions shared by the API tests: the contract's error body and the public user object."""

from typing import Any

from accounts.models import User


def assert_error(response: Any, status: int, code: str) -> dict:
    """The response is the contract's JSON error body with this status and code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def public(user: User, presence: str = "offline") -> dict:
    """The public user object as someone else sees it (default avatar)."""
    return {
        "number": user.number,
        "username": user.username,
        "display_name": user.display_name,
        "signature": user.signature,
        "avatar_url": f"/avatars/default/{user.number}.svg",
        "presence": presence,
    }
