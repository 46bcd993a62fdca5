from django.contrib.auth.backends import ModelBackend


class CaseInsensitiveModelBackend(ModelBackend):
    """Usernames are unique ignoring case, so logging in ignores case too (see User's manager)."""
