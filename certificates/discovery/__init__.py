"""Discovery: certificates already in use, found by TLS scans, agent file scans and imports, triaged and adopted."""
