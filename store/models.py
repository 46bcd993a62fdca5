"""The store catalog and entitlements (built by the store issue)."""
