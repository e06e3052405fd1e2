"""Discovery admin: scans."""
