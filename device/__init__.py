"""The kiosk daemon: plays curated playlists offline and journals every play."""

# The single source of the version (pyproject reads it): no importlib.metadata at start-up.
__version__ = "0.1.0"
FIRMWARE_VERSION = __version__
