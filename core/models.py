"""Core plumbing's one model: stored Idempotency-Key answers (see core.idempotency)."""

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """The first completed (2xx/4xx) answer to a money-moving request, by user, method, route and key.

    Written in the same database transaction as the request's effect, so the key and the effect
    commit together or not at all.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=10)
    # The route, not the raw path (core.idempotency.request_route); the column keeps its old name.
    path = models.CharField(max_length=255)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the canonical JSON body.")
    status_code = models.PositiveSmallIntegerField(null=True)
    # Text, not JSON: PostgreSQL's jsonb reorders keys, and a replay returns the first body as sent.
    response_body = models.TextField(null=True, blank=True)  # noqa: DJ001 - NULL until completed
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "method", "path", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}] -> {self.status_code}"
