"""Content sync from the tenant: the playlists document and its media into the offline cache.

`document` validates what the tenant sends, `downloader` fetches one file (resumable,
verified), `fetchers` runs a pass's downloads on threads, `fetch_process` (with
`fetch_worker`) runs them in an idle-class process of their own, `quota` keeps the cache
within its disk budget, `syncer` runs the passes and activates complete libraries, `source`
gives the daemon the last activated library at boot.
"""
