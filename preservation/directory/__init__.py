"""The shared directory of providers and 24/7 points of contact: the node's snapshot, the look-up
from an identifier, the route (identifier -> provider, country, channel), import/export and the
directory use cases (list, create, change, delete).

May import access, runtime, documents, storage, domain, settings, errors and the two registries
(`providers`, `contacts`); the requests and the faces import it."""
