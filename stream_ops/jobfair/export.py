"""`stream-ops export SHOW.yaml --out DIR`: the fair's numbers as CSV, XLSX, JSON and HTML.

Every file here is masked (张*, 138****5678). Only `unmasked=True` adds one file
per employer with full contacts, and only of applicants who consented to that
employer and did not withdraw. Each export is written to the store's export log.
"""
from __future__ import annotations

import csv
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from stream_ops.jobfair.report import (
    SOURCE_LABELS, Contact, FairReport, as_dict, collect, employer_contacts, empty_report, log_export,
    summary_rows,
)
from stream_ops.jobfair.report_html import notes, render_html
from stream_ops.jobfair.store import DB_NAME, Store, StoreUnavailable
from stream_ops.jobfair.stores import open_store



@dataclass
class Table:
    """One table of the report: a CSV file and a workbook sheet."""

    stem: str                       # file name without .csv
    sheet: str                      # 中文 English, ≤ 31 characters
    headers: list[str]              # "中文 English"
    rows: list[list[Any]]
    widths: Sequence[int] = ()      # column widths in the workbook
    dim: set[tuple[int, int]] | None = None  # (row, col) cells drawn grey: carried-forward values


def tables(r: FairReport) -> list[Table]:
    """The report as tables, in workbook order."""
    timeline_headers = ["时间 Time", "报名次数 Applications", "报名页访问 Apply-page visits"]
    timeline_headers += [f"{r.label(p)} 在线 {p} viewers" for p in r.platforms]
    timeline_headers += ["段落 Segment", "上屏岗位 Featured job", "事件 Markers"]
    timeline_rows, dim = [], set()
    for i, m in enumerate(r.timeline):
        row: list[Any] = [m.at, m.applications, m.visits]
        for k, p in enumerate(r.platforms):
            row.append(m.viewers.get(p))
            if m.viewers.get(p) is not None and not m.fresh.get(p):
                dim.add((i, 3 + k))
        row += [m.segment, m.featured, m.events]
        timeline_rows.append(row)
    return [
        Table("summary", "汇总 Summary", ["项目", "Item", "数值 Value", "含义 What it means"],
              [list(x) for x in summary_rows(r)], (22, 36, 14, 100)),
        Table("employers", "用人单位 Employers",
              ["编号 ID", "单位名称 Name", "统一社会信用代码 Credit code", "行业 Industry", "岗位数 Jobs",
               "招聘人数 Headcount", "报名次数 Applications", "报名人数 Applicants", "段落时长(秒) On air (s)"],
              [[e.id, e.name, e.credit_code, e.industry, e.jobs, e.headcount, e.applications, e.applicants,
                round(e.segment_s)] for e in r.employers], (10, 30, 22, 14, 10, 12, 14, 14, 14)),
        Table("jobs", "岗位 Jobs",
              ["编号 ID", "岗位名称 Title", "单位编号 Employer ID", "用人单位 Employer", "招聘人数 Headcount",
               "薪资 Salary", "地点 Location", "报名次数 Applications", "报名人数 Applicants",
               "上屏时长(秒) Featured (s)"],
              [[j.id, j.title, j.employer_id, j.employer_name, j.headcount, j.salary, j.location, j.applications,
                j.applicants, round(j.featured_s)] for j in r.jobs], (10, 24, 12, 28, 12, 18, 18, 14, 14, 14)),
        Table("timeline", "时间线 Timeline", timeline_headers, timeline_rows,
              (18, 12, 14, *[14] * len(r.platforms), 24, 24, 40), dim),
        Table("viewer_samples", "观看采样 Viewer samples",
              ["时间 Time", "平台 Platform", "平台编号 Platform ID", "在线人数 Viewers", "来源 Source"],
              [[s.at, r.label(s.platform), s.platform, s.count, SOURCE_LABELS.get(s.source, s.source)]
               for s in r.samples], (20, 12, 12, 12, 24)),
        Table("platform_totals", "平台后台 Platform totals",
              ["平台 Platform", "平台编号 Platform ID", "指标 Metric", "数值 Value", "录入时间 Entered", "备注 Note"],
              [[r.label(t.platform), t.platform, t.metric, t.value, t.entered_at, t.note] for t in r.platform_totals],
              (12, 12, 20, 12, 20, 40)),
        Table("segments", "段落与上屏 Segments",
              ["类型 Kind", "编号 Ref", "对象 What", "开始 Start", "结束 End", "时长(秒) Duration (s)"],
              [[{"segment": "段落 segment", "feature": "上屏 featured"}.get(m.kind, m.kind), m.ref, m.label,
                m.start, m.end, round(m.duration_s(r.end or m.start))] for m in r.markers],
              (14, 10, 30, 20, 20, 14)),
        Table("applications", "报名明细(脱敏) Applications",
              ["报名时间 Time", "姓名(脱敏) Name", "手机(脱敏) Phone", "岗位编号 Job ID", "单位编号 Employer ID",
               "已撤回 Withdrawn"],
              [[a.at, a.name, a.phone, a.job_id, a.employer_id, "是 yes" if a.withdrawn else ""]
               for a in r.applications], (20, 10, 14, 10, 12, 10)),
    ]


# --------------------------------------------------------------------------- writers

def write_csv(path: Path, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """UTF-8 with BOM: Excel in China opens it as UTF-8 only with the BOM."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(headers)
        w.writerows([[_cell_text(v) for v in row] for row in rows])


def write_xlsx(path: Path, sheets: Sequence[Table], note_lines: Sequence[str] = (),
               charts: FairReport | None = None) -> None:
    """One workbook, one sheet per table, header row frozen, optional notes sheet and charts."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"remove_timezone": True, "strings_to_urls": False,
                                         "strings_to_formulas": False})
    head = wb.add_format({"bold": True, "bg_color": "#DDE5EE", "border": 1, "text_wrap": True, "valign": "top"})
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    grey = wb.add_format({"font_color": "#888888", "italic": True})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    for t in sheets:
        ws = wb.add_worksheet(t.sheet[:31])
        ws.write_row(0, 0, t.headers, head)
        ws.freeze_panes(1, 0)
        for c, width in enumerate(t.widths):
            ws.set_column(c, c, width, wrap if width >= 40 else None)
        for i, row in enumerate(t.rows):
            for c, v in enumerate(row):
                if isinstance(v, datetime):
                    ws.write_datetime(i + 1, c, v, when)
                elif v is None:
                    ws.write_blank(i + 1, c, None)
                elif t.dim and (i, c) in t.dim:
                    ws.write(i + 1, c, v, grey)
                else:
                    ws.write(i + 1, c, v)
        if t.rows:
            ws.autofilter(0, 0, len(t.rows), len(t.headers) - 1)
        if charts is not None and t.stem == "timeline" and t.rows and charts.platforms:
            _timeline_chart(wb, ws, t, charts)
    if note_lines:
        ws = wb.add_worksheet("说明 Notes")
        ws.set_column(0, 0, 140, wrap)
        for i, line in enumerate(note_lines):
            ws.write(i, 0, line)
    wb.close()


def _timeline_chart(wb: Any, ws: Any, t: Table, r: FairReport) -> None:
    """Viewers per platform as separate lines (never stacked: stacking would read as a sum)."""
    chart = wb.add_chart({"type": "line"})
    n = len(t.rows)
    for k, p in enumerate(r.platforms):
        chart.add_series({"name": r.label(p), "categories": [ws.name, 1, 0, n, 0],
                          "values": [ws.name, 1, 3 + k, n, 3 + k]})
    chart.set_title({"name": "各平台在线人数 Viewers per platform"})
    chart.set_x_axis({"date_axis": True, "num_format": "hh:mm"})
    chart.set_size({"width": 900, "height": 360})
    ws.insert_chart(1, len(t.headers) + 1, chart)


def write_json(path: Path, r: FairReport) -> None:
    path.write_text(json.dumps(as_dict(r), ensure_ascii=False, indent=1), encoding="utf-8")


def _cell_text(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if v is None:
        return ""
    if isinstance(v, str) and v[:1] in _FORMULA_START and not _NUMBERISH.fullmatch(v):
        return "'" + v  # a cell starting with = would run as a formula in Excel (CSV injection)
    return v


# OWASP's list: = + - @ start a formula; TAB and CR let one hide behind leading whitespace.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_NUMBERISH = re.compile(r"[-+]?[0-9][0-9,.]*")


def write_report(r: FairReport, out_dir: Path) -> list[Path]:
    """Every masked file of the export; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    all_tables = tables(r)
    for t in all_tables:
        path = out_dir / f"{t.stem}.csv"
        write_csv(path, t.headers, t.rows)
        written.append(path)
    xlsx = out_dir / "report.xlsx"
    write_xlsx(xlsx, all_tables, notes(r), charts=r)
    js = out_dir / "report.json"
    write_json(js, r)
    html = out_dir / "report.html"
    html.write_text(render_html(r), encoding="utf-8")
    return written + [xlsx, js, html]


CONTACT_HEADERS = ["报名时间 Applied", "姓名 Name", "手机号 Mobile", "岗位编号 Job ID", "岗位名称 Job title",
                   "同意时间 Consent given", "告知版本 Notice version"]


def write_employer_files(contacts: dict[str, list[Contact]], r: FairReport, out_dir: Path) -> list[Path]:
    """Full contacts, one CSV + XLSX per employer that has consenting applicants."""
    names = {e.id: e.name for e in r.employers}
    written = []
    for eid, rows in contacts.items():
        if not rows:
            continue
        stem = f"employer-{_safe(eid)}-{_safe(names.get(eid, ''))}".rstrip("-")
        data = [[c.at, c.name, c.phone, c.job_id, c.job_title, c.consent_at, c.notice_version] for c in rows]
        csv_path, xlsx_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.xlsx"
        write_csv(csv_path, CONTACT_HEADERS, data)
        sheet = Table(stem, "报名人 Applicants", CONTACT_HEADERS, data, (20, 10, 14, 10, 24, 20, 14))
        write_xlsx(xlsx_path, [sheet], [
            f"{names.get(eid, eid)}：以下报名人在报名时单独勾选同意向贵单位提供姓名和手机号，且未撤回同意。",
            "仅用于联系面试，请勿转给他人；按主办方告知的期限删除。"
            " Only applicants who consented to this employer and did not withdraw. Use for interviews only.",
        ])
        written += [csv_path, xlsx_path]
    return written


def _safe(text: str) -> str:
    """A file-name-safe piece that keeps Chinese: 某某机械/有限公司 -> 某某机械_有限公司."""
    return re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("._")[:40]


# --------------------------------------------------------------------------- main

def main(config: Any, out_dir: Path, unmasked: bool = False) -> int:
    """Export the fair of `config` into `out_dir`; 0 on success, 1 when the show has no fair."""
    fair = getattr(config, "jobfair", None)
    if fair is None:
        print(f"错误 error: {config.path} 没有 jobfair: 部分，没有可导出的招聘会数据。"
              f" The show file has no `jobfair:` section; add one (event, platforms, employers with jobs) "
              f"or export a show that has it.")
        return 1
    t0 = time.perf_counter()
    db = config.data_path / DB_NAME
    out_dir = Path(out_dir)
    try:
        store = open_store(fair.store, config.data_path, fair.store_password, must_exist=True)
    except StoreUnavailable as exc:
        print(f"错误 error: 无法打开数据库 cannot open the store: {exc}")
        return 1
    try:
        if store is None:
            report = empty_report(fair, config.name, f"没有找到数据库 {db}，所有数字为 0。 No store at {db}: every figure is zero.")
        else:
            report = collect(store, fair, config.name)
        files = write_report(report, out_dir)
        from stream_ops.rundown_live import write_export as write_rundown   # the run of show: planned vs actual
        files += write_rundown(config, out_dir)
        unmasked_files: list[Path] = []
        if unmasked and store is not None:
            unmasked_files = write_employer_files(employer_contacts(store, fair), report, out_dir)
        files += unmasked_files
        _log_export(store, files, set(unmasked_files), report)
    finally:
        if store is not None:
            store.close()
    _print_done(report, files, out_dir, unmasked, time.perf_counter() - t0)
    return 0


def _log_export(store: Store | None, files: list[Path], unmasked: set[Path], r: FairReport) -> None:
    if store is None:
        print("注意 note: 没有数据库，本次导出未记入导出日志。 No store: this export is not in the export log.")
        return
    rows = []
    for p in files:
        if p in unmasked:
            what = "employer:" + p.stem.split("-")[1] + p.suffix  # employer:E01.xlsx
        else:
            what = p.suffix.lstrip(".") + (f":{p.stem}" if p.suffix == ".csv" else "")
        rows.append((what, str(p.resolve()), p not in unmasked))
    note = (f"by {_who()}; {len(files)} files; applications={r.total_applications} "
            f"unmasked_files={len(unmasked)}")
    log_export(store, rows, note)


def _who() -> str:
    """Who ran the export (the log's "by"): login name at host."""
    import getpass
    import socket

    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:  # noqa: BLE001 - no user in a container is not a reason to fail the export
        return "unknown"


def _print_done(r: FairReport, files: list[Path], out_dir: Path, unmasked: bool, seconds: float) -> None:
    if r.store_note:
        print(f"注意 note: {r.store_note}")
    print(f"已导出 exported {len(files)} 个文件 files → {out_dir} "
          f"({'含完整联系方式 UNMASKED per-employer files' if unmasked else '已脱敏 masked'}, {seconds:.2f} s)")
    for p in files:
        print(f"  {p.name}  {p.stat().st_size:,} B")
    print(f"报名 applications {r.total_applications:,} (撤回 withdrawn {r.withdrawn:,}) · "
          f"报名人数 applicants {r.distinct_applicants:,} · 报名页访问 visits {r.visits:,}")
    if unmasked:
        print("  含完整联系方式的文件只交给对应用人单位；本次导出已记入导出日志。"
              " Files with full contacts go to their employer only; this export is in the export log.")
    for pk in r.peaks:
        print(f"  {r.label(pk.platform)} 峰值在线(采样) sampled peak {pk.peak:,} @ {pk.at:%H:%M} "
              f"({SOURCE_LABELS.get(pk.source, pk.source)})")
    if r.peaks:
        print("  各平台观看数字分别统计，不相加。 Viewer figures are per platform and never summed.")


