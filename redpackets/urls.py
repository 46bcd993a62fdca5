"""Red-packet API routes (CONTRACT section 6)."""

urlpatterns: list = []
