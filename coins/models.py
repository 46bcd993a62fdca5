"""The coins ledger (built by the coins issue)."""
