"""The pure core: identifiers and their normalisation, local times and zones (DST refusals),
legal regimes (instruments) as values, deadline arithmetic, the request lifecycle (states and
transitions), and the clock.

Owns no I/O: nothing here opens a file, a socket or a database, reads a setting or the clock
(`clock.Clock` is the one place that reads it, injected into callers). May import only
`preservation.errors`, the standard library and value libraries (dateutil, pytz, phonenumbers,
idna, tldextract). Everything else may import it."""
