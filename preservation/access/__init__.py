"""Who is calling: bearer tokens (stored as hashes) and the principal they stand for, calendar
feed tokens, units and their profile; people and how they sign in (passwords, the TOTP second
factor, enrolment links, OpenID Connect).

May import storage, domain, settings and errors; the use cases (requests, directory, reminders)
and the faces import it."""
