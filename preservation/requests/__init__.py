"""The preservation request's use cases: create (with its assessment, checklist and route),
change a draft, submit, the transitions (acknowledge, extend, MLA, close), the public view and
the lists, the letters built from the record, references, idempotency, the audit trail, the
reminder plan written in the same transaction, and the outbox rows as the use cases see them
(queued messages, portal hand-offs; a use case never calls a channel).

Each use case owns its transaction. May import directory, access, runtime, documents, storage,
domain, settings and errors; dispatch, reminders and the faces import it."""
