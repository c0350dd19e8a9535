"""The studio: ``compositor serve``'s page and HTTP API (``app.create_app``).

``store`` keeps uploads and results in a temporary folder per server; ``jobs`` runs the
work on a bounded pool of threads; ``app`` holds the routes, which reach the pipeline
only through ``compositor.api``. ``static/`` is the page (plain HTML, CSS and JavaScript,
no build step, nothing fetched from elsewhere).
"""
from __future__ import annotations

from .app import Config, create_app

__all__ = ["Config", "create_app"]
