"""Chinese and English names for what the pages show; one table, read by the templates and,
through the page's boot data, by the scripts, so a label never differs between the two."""

from __future__ import annotations

from typing import NamedTuple


class Label(NamedTuple):
    zh: str
    en: str


RULES: dict[str, Label] = {
    "dual_teller": Label("双人临柜", "Dual-teller presence"),
    "unattended_items": Label("柜面现金无人看管", "Unattended cash on counter"),
    "non_staff_in_area": Label("非营业人员进入营业间", "Non-staff in teller area"),
    "tailgating": Label("防尾随联动门", "Tailgating at door"),
    "cash_escort": Label("双人持械护送款箱", "Cash-box escort"),
    "intrusion": Label("110 防盗入侵", "Intrusion after hours"),
}
STATES: dict[str, Label] = {
    "open": Label("进行中", "Open"),
    "ended": Label("已结束", "Ended"),
}
REVIEW: dict[str, Label] = {
    "unreviewed": Label("未复核", "Unreviewed"),
    "acknowledged": Label("已确认", "Acknowledged"),
    "true_positive": Label("属实", "True positive"),
    "false_positive": Label("误报", "False positive"),
}
SEVERITY: dict[str, Label] = {
    "high": Label("高", "High"),
    "medium": Label("中", "Medium"),
    "low": Label("低", "Low"),
}
ZONE_KINDS: dict[str, Label] = {
    "teller_area": Label("营业间", "Teller area"),
    "counter": Label("柜台台面", "Counter top"),
    "customer_area": Label("客户区", "Customer area"),
    "door": Label("门", "Door"),
    "generic": Label("通用", "Generic"),
}
# keys the rules put in a violation's ``details`` (vision/rules/*); others are shown as they come
DETAILS: dict[str, Label] = {
    "min_staff_seen": Label("最少在岗员工", "Fewest staff seen"),
    "min_staff": Label("要求员工数", "Staff required"),
    "max_non_staff": Label("最多非员工", "Most non-staff"),
    "max_items": Label("最多物品数", "Most items"),
    "items": Label("柜面物品", "Items on counter"),
    "persons": Label("人数", "Persons"),
    "max_persons": Label("允许人数", "Persons allowed"),
    "window_s": Label("判定时窗(秒)", "Window (s)"),
    "entries": Label("进入顺序", "Entries"),
    "item": Label("款箱类别", "Cash-box class"),
    "evidence_error": Label("证据错误", "Evidence error"),
}
ROLES: dict[str, Label] = {
    "operator": Label("监控员", "Operator"),
    "branch_head": Label("网点负责人", "Branch head"),
    "engineer": Label("工程师", "Engineer"),
    "admin": Label("管理员", "Admin"),
}


def as_json() -> dict[str, dict[str, list[str]]]:
    """The tables as plain JSON for the scripts: ``{"rules": {"dual_teller": [zh, en]}, ...}``.
    JSON objects lose their order on the way (``tojson`` sorts keys), so the order in which rules
    and zone kinds are listed travels separately in ``order``."""
    tables = {
        "rules": RULES,
        "states": STATES,
        "review": REVIEW,
        "severity": SEVERITY,
        "kinds": ZONE_KINDS,
        "roles": ROLES,
        "details": DETAILS,
    }
    out = {name: {k: [v.zh, v.en] for k, v in table.items()} for name, table in tables.items()}
    out["order"] = {"rules": list(RULES), "kinds": list(ZONE_KINDS)}
    return out
