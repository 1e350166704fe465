"""ferry: Campaign v8 FFDA-style ingestion into PostgreSQL staging, replicated to a warehouse."""

__version__ = "0.1.0"
