"""The HTTP routers: enrollment, device content, administration."""
