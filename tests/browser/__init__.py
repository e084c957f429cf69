"""Browser tests (Playwright + headless Chromium); a package so its module names do not clash with tests/."""
