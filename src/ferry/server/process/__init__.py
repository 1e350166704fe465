"""The serving process and its parts. Imports lower packages; api only lazily (the sync service, query errors)."""
