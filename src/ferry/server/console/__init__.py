"""The operator console: server-rendered pages under /console (no JS needed), inline CSS and SVG charts."""

from ferry.server.console.routes import build_console, install

__all__ = ["build_console", "install"]
