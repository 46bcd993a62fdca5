"""Uploaded avatars are served from MEDIA_ROOT/avatars and nowhere else: a `..` in the path
(plain or percent-encoded) never reaches another file under MEDIA_ROOT."""

from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

SECRET = b"not for anyone's eyes"


@pytest.fixture
def media() -> Path:
    root = Path(settings.MEDIA_ROOT)  # per test (tests/conftest.py)
    (root / "avatars").mkdir(parents=True)
    (root / "avatars" / "10001-ab12.png").write_bytes(b"\x89PNG avatar bytes")
    (root / "secret.txt").write_bytes(SECRET)
    (root / "other").mkdir()
    (root / "other" / "file.txt").write_bytes(SECRET)
    return root


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_an_uploaded_avatar_is_served(client, media):
    response = client.get("/media/avatars/10001-ab12.png")

    assert response.status_code == 200
    assert body(response) == b"\x89PNG avatar bytes"


def test_a_missing_avatar_is_404(client, media):
    assert client.get("/media/avatars/nobody.png").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/media/avatars/../secret.txt",
        "/media/avatars/%2e%2e/secret.txt",
        "/media/avatars/%2E%2E%2Fsecret.txt",
        "/media/avatars/..%2fsecret.txt",
        "/media/avatars/x/../../secret.txt",
        "/media/avatars/../other/file.txt",
        "/media/avatars/%2e%2e%5csecret.txt",
    ],
)
def test_dot_dot_does_not_leave_the_avatars_folder(client, media, path):
    response = client.get(path)

    assert response.status_code in (400, 404)
    assert SECRET not in body(response)


def test_only_the_avatars_folder_is_served(client, media):
    assert client.get("/media/secret.txt").status_code == 404
