"""WebRTC media backend: the only package that imports aiortc (issue 8)."""
