"""The contract: everything that crosses a wire, a card or a stick between the three programs.

`device/` (the kiosk), `tenant/` (the library network) and `provisioning/` (a technician's
computer) never import each other; what they must agree on lives here: the MQTT protocol
(`protocol/`), the playlists document (its schema in `protocol/schemas/playlists.json`), the
weekly-hours grammar (`hours`), the content-pack format (`pack`), ids and sha256 types (`ids`),
the content-addressed media store (`media`), audio tags (`tags`), the site file and where
things live on a card (`site`, `layout`), the TOML reader (`toml_reader`) and atomic file
writes (`files`). It imports none of the three programs.
"""

# The single source of the release version (pyproject reads it): no importlib.metadata at start.
__version__ = "0.1.0"
