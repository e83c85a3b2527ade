"""Mesh drawing without a GPU: a z-buffer rasteriser and a shaded mesh renderer (the simulator and the overlays)."""
