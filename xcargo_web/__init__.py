"""Configuration of the xcargo-web server: settings, URLs, WSGI."""
