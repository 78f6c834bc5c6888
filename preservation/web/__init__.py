"""The HTTP face: the aiohttp application factory, the JSON API (`web.api`), the pages
(`web.pages`), authentication and page sessions, problem+json errors, OpenAPI, metrics,
request logging and graceful shutdown.

Handlers are thin: parse the input model, call one use case, render the public model. May import
every package below it; only the CLI imports it (`serve`)."""
