"""Compliance admin: rules and violations."""
