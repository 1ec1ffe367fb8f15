"""The operator console: server-rendered French pages at /console (Jinja2 + htmx)."""
