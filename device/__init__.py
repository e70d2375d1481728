"""The kiosk daemon: plays curated playlists offline and journals every play."""

from contract import __version__ as FIRMWARE_VERSION

__all__ = ["FIRMWARE_VERSION"]
