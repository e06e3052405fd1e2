"""Discovery admin: inventory."""
