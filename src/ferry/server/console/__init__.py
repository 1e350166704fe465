"""The operator console: server-rendered pages under /console, inline CSS and SVG charts. Imports door, process."""

from ferry.server.console.routes import build_console, install

__all__ = ["build_console", "install"]
