"""Workflow JavaScript: the E4X translation, the sandboxed engine, the JSAPI bound to ferry."""
