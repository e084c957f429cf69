"""Serving the app: settings (BACKPROP_VIZ_... variables), security headers, static assets (versioned URLs,
compression) and ops (health check, caching of the JSON that never changes)."""
