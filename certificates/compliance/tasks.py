"""Compliance tasks: certificates.evaluate_compliance."""
