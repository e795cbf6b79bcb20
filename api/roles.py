"""The kinds of login (DESIGN.md "Users"): what each may see and do is in ``api.deps``.

Stored and sent as their values (``"branch_head"``), so the database, the JSON and the command
line are unchanged by the enum.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    operator = "operator"
    branch_head = "branch_head"
    engineer = "engineer"
    admin = "admin"


ROLES: tuple[str, ...] = tuple(r.value for r in Role)
