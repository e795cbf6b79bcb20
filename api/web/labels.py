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
    "camera_tamper": Label("摄像机遮挡/移位", "Camera tampered"),
    "camera_offline": Label("摄像机离线", "Camera offline"),
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
# the point of a person's box a zone tests (vision/zones.py), and each kind's default
ANCHORS: dict[str, Label] = {
    "center": Label("框中心", "box centre"),
    "bottom_center": Label("脚下", "feet"),
    "top_center": Label("头顶", "head"),
    "center_or_bottom": Label("框中心或脚下", "box centre or feet"),
}
KIND_ANCHOR: dict[str, str] = {
    "teller_area": "center_or_bottom",
    "counter": "center_or_bottom",
    "customer_area": "bottom_center",
    "door": "bottom_center",
    "generic": "bottom_center",
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
AUDIT_ACTIONS: dict[str, Label] = {
    "login": Label("登录成功", "Login"),
    "login_failed": Label("登录失败", "Login failed"),
    "view_clip": Label("查看录像", "View clip"),
    "download_clip": Label("下载录像", "Download clip"),
    "view_snapshot": Label("查看截图", "View snapshot"),
    "download_snapshot": Label("下载截图", "Download snapshot"),
    "export_summary_csv": Label("导出汇总 CSV", "Export summary CSV"),
    "print_summary": Label("打印汇总", "Print summary"),
    "print_violations": Label("打印违规记录", "Print violations"),
    "export_audit_csv": Label("导出审计 CSV", "Export audit CSV"),
    "review_violation": Label("复核违规", "Review violation"),
    "update_zones": Label("修改区域", "Update zones"),
    "create_user": Label("新增用户", "Create user"),
    "remove_user": Label("停用用户", "Remove user"),
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
        "anchors": ANCHORS,
        "audit": AUDIT_ACTIONS,
    }
    out = {name: {k: [v.zh, v.en] for k, v in table.items()} for name, table in tables.items()}
    out["order"] = {"rules": list(RULES), "kinds": list(ZONE_KINDS)}
    out["kind_anchor"] = {k: [v] for k, v in KIND_ANCHOR.items()}
    return out
