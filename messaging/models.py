"""Conversations and messages (built by the messaging issue)."""
