"""The reference tenant service: enrollment, device credentials, playlists and media.

`tenant.service.create_app` builds the FastAPI application; `tenant.setup.init_tenant` creates
a tenant and its admin token; `tenant.cli` adds `jukebox tenant …` and `jukebox admin …`.
The HTTP contract is docs/tenant-api.md.
"""
