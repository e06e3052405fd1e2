"""Discovery tasks: network scans (certificates.discovery_tick, certificates.scan_chunk)."""
