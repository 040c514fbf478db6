"""Everything that changes the server's data, one module per concern. Views, the API, tasks
and management commands call these; none of them writes a model directly.
"""
