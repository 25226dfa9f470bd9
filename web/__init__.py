"""The web app: search, upload and admin pages and the JSON API (see docs/web.md)."""
