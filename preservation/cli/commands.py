"""The list of command groups; each module adds its sub-commands to the parser."""

from __future__ import annotations

from preservation.cli import audit, core, deadlines, directory, mail, ops, requests, users

REGISTRARS = [
    core.register,
    audit.register,
    ops.register,
    directory.register,
    requests.register,
    deadlines.register,
    mail.register,
    users.register,
]
