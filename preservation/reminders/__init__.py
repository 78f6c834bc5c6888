"""Reminders and deadlines as people see them: delivering due reminder rows (mail, webhook), the
periodic digests and staleness checks, the texts of reminder mails, the deadline list and the
calendar feed.

May import dispatch (its channels), requests (the reminder plan) and everything below; only the
faces import it."""
