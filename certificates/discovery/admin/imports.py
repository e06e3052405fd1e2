"""Discovery admin: imports."""
