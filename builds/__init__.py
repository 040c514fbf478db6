"""The build server's Django app: models, services, selectors, tasks, views, api, admin."""
