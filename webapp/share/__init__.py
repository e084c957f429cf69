"""Sharing a lab state: the embed page, oEmbed and exports (routes); the NumPy script (script, script_parts)."""
