"""The outbox's delivery: the sweep that claims queued messages and sends each through its
channel (e-mail over aiosmtplib, signed webhook; portal rows become hand-off tasks), then records
the result through `requests.delivery`.

May import requests and everything below it; reminders and the faces import it."""
