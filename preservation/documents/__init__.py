"""Rendering documents from a prepared context: the letter in text, HTML, PDF and JSON, with its
templates and fonts.

Pure rendering: it receives a context (plain data) and returns bytes; it reads no database and
no setting. May import domain and errors; the use cases import it."""
