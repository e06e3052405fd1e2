"""Real-browser tests of the operators' pages: Chromium driven by Playwright against a live server."""
