"""The kiosk daemon: plays curated playlists offline and journals every play."""

from importlib.metadata import PackageNotFoundError, version

try:
    FIRMWARE_VERSION = version("jukebox")
except PackageNotFoundError:  # running from a source tree that was never installed
    FIRMWARE_VERSION = "0+unknown"
