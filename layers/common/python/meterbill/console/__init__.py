"""The operator's console: server-rendered HTML (Jinja2, autoescaped) with htmx, same origin as the API.

This package holds what the pages are made of: the templates (``templates/``), the static files
(``static/``: ``console.css`` and the vendored htmx and uPlot, see README.md), the headers every page
carries and the alarm zone's order. The routes are ``meterbill.api.routes.console``.
"""
