"""Plain-Python core of xcargo: engines, images, configuration, caches and the build sandbox.

Nothing here imports Django, so the `xcargo` CLI and the server's workers share one engine room.
"""
