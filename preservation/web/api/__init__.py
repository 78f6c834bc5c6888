"""The JSON API under /api/v1: one module per resource (requests, actions, deadlines,
directory, system), each a table of endpoints that `web.app` installs.

May import the use cases and `preservation.web` helpers; not the pages."""
