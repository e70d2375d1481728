"""Content sync from the tenant: the playlists document and its media into the offline cache.

`document` validates what the tenant sends, `downloader` fetches one file (resumable,
verified), `quota` keeps the cache within its disk budget, `syncer` runs the passes and
activates complete libraries, `source` gives the daemon the last activated library at boot.
"""
