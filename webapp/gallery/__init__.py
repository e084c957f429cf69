"""The gallery of worked examples (`GET /`)."""
