"""Compliance: rules every certificate (managed or discovered) is judged by, and the violations they find."""
