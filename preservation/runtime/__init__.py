"""What a node runs with: the use-case `Context` (settings, clock, regimes, the scheduler's
wake-up), the `Runtime` handed to background jobs at start-up (database, settings, clock,
scheduler), and the scheduler itself (APScheduler as a ticker; job state lives in our tables).

May import storage, domain, settings and errors. Background jobs get a `Runtime`; they never
reach into the web application."""
