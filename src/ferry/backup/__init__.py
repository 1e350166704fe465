"""`ferry backup` / `ferry restore`: staging and warehouse saved together, from one consistent moment."""

from ferry.backup.manifest import FORMAT_VERSION, Manifest
from ferry.backup.restore import restore
from ferry.backup.take import backup

__all__ = ["FORMAT_VERSION", "Manifest", "backup", "restore"]
