"""The job-fair report as one self-contained HTML file: inline CSS and SVG, no JS, no CDN.

It opens offline from a USB stick or an e-mail attachment. Chinese first, English
second. Viewer charts draw one line per platform and never a sum: the same person
may watch on two platforms, and each platform counts "viewers" its own way.
"""
from __future__ import annotations

from datetime import datetime, tzinfo
from html import escape
from typing import Callable, Iterable, Sequence

from stream_ops.jobfair.report import (
    CARRY_FORWARD, SOURCE_LABELS, FairReport, summary_rows,
)

COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
FONT = '"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC",sans-serif'

CSS = f"""
body{{font-family:{FONT};margin:24px auto;max-width:1100px;color:#1b1f24;padding:0 16px}}
h1{{font-size:26px;margin-bottom:4px}} h2{{font-size:20px;margin-top:36px;border-bottom:2px solid #e3e6ea;padding-bottom:4px}}
.en{{color:#6a737d;font-weight:normal;font-size:.8em}}
table{{border-collapse:collapse;width:100%;font-size:14px}}
th,td{{border:1px solid #d6d9dd;padding:4px 8px;text-align:left;vertical-align:top}}
th{{background:#f3f5f7}} td.n{{text-align:right;font-variant-numeric:tabular-nums}}
td.item,th.item{{white-space:nowrap}} td.empty{{color:#6a737d;text-align:center}}
.meaning{{color:#444;font-size:13px}} .note{{background:#fff8e1;border-left:4px solid #f0b400;padding:8px 12px}}
svg{{max-width:100%;height:auto;font-family:{FONT}}} .legend span{{margin-right:16px;white-space:nowrap}}
"""


def render_html(r: FairReport) -> str:
    """The whole report page."""
    title = f"{r.fair_title or r.show_name} 数据报告"
    parts = [
        "<!doctype html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)} <span class='en'>Job fair report</span></h1>",
        f"<p>{escape(r.show_name)} · 生成于 generated {r.generated_at:%Y-%m-%d %H:%M}</p>",
    ]
    if r.store_note:
        parts.append(f"<p class='note'>{escape(r.store_note)}</p>")
    parts.append(_h2("汇总", "Summary"))
    parts.append(_table(["项目", "Item", "数值 Value", "含义 What it means"],
                        [[a, b, c, d] for a, b, c, d in summary_rows(r)], numeric={2}, meaning={3},
                        nowrap={0, 1}))
    parts.append(
        "<p class='note'>各平台的观看数字口径不同、观众互有重叠，本报告逐平台列出，从不相加。"
        "Viewer figures are per platform; platforms count differently and audiences overlap, "
        "so they are never added together.</p>")

    parts.append(_h2("各平台在线人数", "Concurrent viewers per platform"))
    parts.append(viewers_chart(r))
    parts.append(_h2("每分钟报名与报名页访问", "Applications and apply-page visits per minute"))
    parts.append(minute_chart(r))
    parts.append(_h2("各岗位报名", "Applications per job"))
    parts.append(bar_chart([(f"{j.id} {j.title}", j.applications) for j in r.jobs], "#1f77b4", "job-bars"))
    parts.append(_h2("各用人单位报名", "Applications per employer"))
    parts.append(bar_chart([(f"{e.id} {e.name}", e.applications) for e in r.employers], "#2ca02c", "employer-bars"))

    parts.append(_h2("用人单位", "Employers"))
    parts.append(_table(
        ["编号 ID", "单位名称 Name", "行业 Industry", "岗位数 Jobs", "招聘人数 Headcount",
         "报名次数 Applications", "报名人数 Applicants", "段落时长 On air"],
        [[e.id, e.name, e.industry, e.jobs, e.headcount, e.applications, e.applicants, _dur(e.segment_s)]
         for e in r.employers], numeric={3, 4, 5, 6}))
    parts.append(_h2("岗位", "Jobs"))
    parts.append(_table(
        ["编号 ID", "岗位名称 Title", "用人单位 Employer", "招聘人数 Headcount", "薪资 Salary", "地点 Location",
         "报名次数 Applications", "报名人数 Applicants", "上屏时长 Featured"],
        [[j.id, j.title, j.employer_name, j.headcount, j.salary, j.location, j.applications, j.applicants,
          _dur(j.featured_s)] for j in r.jobs], numeric={3, 6, 7}))
    parts.append(_h2("段落与上屏", "Segments and featured jobs"))
    parts.append(_table(
        ["类型 Kind", "对象 What", "开始 Start", "结束 End", "时长 Duration"],
        [[{"segment": "段落 segment", "feature": "上屏 featured"}.get(m.kind, m.kind), m.label,
          _t(m.start), _t(m.end) if m.end else "（未结束 open）", _dur(m.duration_s(r.end or m.start))]
         for m in r.markers]))
    if r.platform_totals:
        parts.append(_h2("平台后台数据", "Platform console figures"))
        parts.append(_table(
            ["平台 Platform", "指标 Metric", "数值 Value", "录入时间 Entered", "备注 Note"],
            [[r.label(t.platform), t.metric, t.value, _t(t.entered_at), t.note] for t in r.platform_totals],
            numeric={2}))
    parts.append(_h2("说明", "Notes"))
    parts.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes(r)) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def notes(r: FairReport) -> list[str]:
    """How the numbers were made; also written into the workbook's notes sheet."""
    offset = datetime.now(r.tz).strftime("%z")
    return [
        f"所有时间均为 UTC{offset[:3]}:{offset[3:]}（北京时间为 +08:00）。 All times are UTC{offset[:3]}:{offset[3:]}.",
        "观看人数按平台分别统计，从不跨平台相加：同一个人可能在多个平台观看，各平台的“在线”“观看”口径也不同。"
        " Viewers are per platform and never summed across platforms.",
        "峰值在线（采样）= 本系统记录的该平台最高一次同时在线采样（人工录入、Webhook 或接口轮询），不是平台的官方峰值；"
        "官方数字见“平台后台数据”。 Sampled peak = highest sample we recorded, not the platform's official figure.",
        f"时间线每分钟的在线人数 = 该分钟内最后一次采样；该分钟没有采样时沿用上一次采样，最多沿用 "
        f"{int(CARRY_FORWARD.total_seconds() // 60)} 分钟，之后留空。原始采样见“观看采样”。"
        " Timeline viewers: latest sample in the minute, carried forward up to 10 minutes, then blank.",
        "报名次数：同一手机号重复报名同一岗位只计 1 次，事后撤回的仍计入；报名人数：不同报名人（手机号）的数量。"
        " Applications: one per phone per job, withdrawn ones included. Applicants: distinct people.",
        "报名人信息在本报告及所有导出文件中均已脱敏（如 张*、138****5678）。完整联系方式只在 --unmasked 导出的"
        "各用人单位文件中，且只含同意向该单位提供信息、且未撤回同意的报名人。"
        " Applicants are masked; full contacts only in per-employer files exported with --unmasked, for consenting applicants.",
        "报名页访问 = 本站报名页被打开的次数（含扫码打开），是我们自己的、可与报名对比的漏斗数据。"
        " Apply-page visits are our own funnel figure.",
    ]


def viewers_chart(r: FairReport, width: int = 1000, height: int = 360) -> str:
    """One line per platform through its samples; segments shaded behind them."""
    series = {}
    for p in r.platforms:
        pts = [(s.at.timestamp(), s.count) for s in r.samples if s.platform == p]
        if pts:
            series[p] = sorted(pts)
    if not series:
        return "<p>没有观看采样。No viewer samples recorded.</p>"
    xs = [x for pts in series.values() for x, _ in pts]
    x0, x1 = min(xs), max(xs)
    if r.start and r.end:
        x0, x1 = min(x0, r.start.timestamp()), max(x1, r.end.timestamp())
    y1 = _nice_max(max(y for pts in series.values() for _, y in pts))
    left, right, top, bottom = 70, 20, 20, 50
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * pw

    def sy(y: float) -> float:
        return top + ph - y / y1 * ph

    out = [f'<svg id="viewers-chart" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="各平台在线人数 viewers per platform">']
    for i, m in enumerate(m for m in r.markers if m.kind == "segment"):
        a, b = sx(m.start.timestamp()), sx((m.end or r.end or m.start).timestamp())
        out.append(f'<rect x="{a:.1f}" y="{top}" width="{max(1.0, b - a):.1f}" height="{ph}" '
                   f'fill="{"#eef3f8" if i % 2 == 0 else "#f7f4ec"}"><title>{escape(m.label)}</title></rect>')
        out.append(f'<text x="{a + 3:.1f}" y="{top + 14}" font-size="11" fill="#889">{escape(_short(m.label, 10))}</text>')
    out += _y_axis(left, top, pw, ph, y1)
    out += _time_axis(x0, x1, sx, top + ph, r.tz)
    for i, (p, pts) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline class="platform-line" data-platform="{escape(p)}" fill="none" stroke="{colour}" '
                   f'stroke-width="2" points="{path}"><title>{escape(r.label(p))}</title></polyline>')
    peaks = {pk.platform: pk for pk in r.peaks}
    for i, p in enumerate(series):
        pk = peaks.get(p)
        if pk:
            out.append(f'<circle cx="{sx(pk.at.timestamp()):.1f}" cy="{sy(pk.peak):.1f}" r="4" '
                       f'fill="{COLOURS[i % len(COLOURS)]}"><title>{escape(r.label(p))} 峰值 {pk.peak} '
                       f'{pk.at:%H:%M}</title></circle>')
    out.append("</svg>")
    legend = "".join(
        f'<span><svg width="22" height="10"><rect width="22" height="4" y="3" fill="{COLOURS[i % len(COLOURS)]}"/></svg> '
        f'{escape(r.label(p))} ({escape(p)})'
        + (f" · 峰值 peak {peaks[p].peak:,} @ {peaks[p].at:%H:%M} · {escape(SOURCE_LABELS.get(peaks[p].source, peaks[p].source))}"
           if p in peaks else "") + "</span>"
        for i, p in enumerate(series))
    return "".join(out) + f'<p class="legend">{legend}</p>'


def minute_chart(r: FairReport, width: int = 1000, height: int = 240) -> str:
    """Applications per minute as columns, apply-page visits as a line."""
    rows = r.timeline
    if not rows:
        return "<p>没有时间线数据。No timeline data.</p>"
    y1 = _nice_max(max(max(m.applications, m.visits) for m in rows))
    left, right, top, bottom = 70, 20, 20, 50
    pw, ph = width - left - right, height - top - bottom
    bw = pw / len(rows)
    x0, x1 = rows[0].at.timestamp(), rows[-1].at.timestamp() + 60

    def sx(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * pw

    out = [f'<svg id="minute-chart" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="每分钟报名 applications per minute">']
    out += _y_axis(left, top, pw, ph, y1)
    out += _time_axis(x0, x1, sx, top + ph, r.tz)
    for i, m in enumerate(rows):
        if m.applications:
            h = m.applications / y1 * ph
            out.append(f'<rect x="{left + i * bw:.1f}" y="{top + ph - h:.1f}" width="{max(0.5, bw * 0.85):.1f}" '
                       f'height="{h:.1f}" fill="#1f77b4"><title>{m.at:%H:%M} 报名 {m.applications}</title></rect>')
    pts = " ".join(f"{left + (i + 0.5) * bw:.1f},{top + ph - m.visits / y1 * ph:.1f}" for i, m in enumerate(rows))
    out.append(f'<polyline fill="none" stroke="#ff7f0e" stroke-width="1.5" points="{pts}"/>')
    out.append("</svg>")
    return "".join(out) + ('<p class="legend"><span style="color:#1f77b4">■ 报名次数 applications</span>'
                           '<span style="color:#ff7f0e">— 报名页访问 apply-page visits</span></p>')


def bar_chart(items: Sequence[tuple[str, int]], colour: str, chart_id: str, width: int = 1000) -> str:
    """Horizontal bars, one per item, value written at the end of each bar."""
    if not items:
        return "<p>无数据。No data.</p>"
    bar, gap, label_w, top = 18, 6, 300, 10
    height = top * 2 + len(items) * (bar + gap)
    vmax = max(v for _, v in items) or 1
    pw = width - label_w - 80
    out = [f'<svg id="{chart_id}" class="chart bars" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {width} {height}" role="img">']
    for i, (label, value) in enumerate(items):
        y = top + i * (bar + gap)
        w = value / vmax * pw
        out.append(f'<text x="{label_w - 8}" y="{y + bar - 4}" font-size="13" text-anchor="end">'
                   f'{escape(_short(label, 22))}</text>')
        out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}">'
                   f'<title>{escape(label)}: {value}</title></rect>')
        out.append(f'<text x="{label_w + w + 6:.1f}" y="{y + bar - 4}" font-size="13">{value:,}</text>')
    out.append("</svg>")
    return "".join(out)


def _y_axis(left: int, top: int, pw: int, ph: int, y1: float) -> list[str]:
    out = []
    for k in range(5):
        v = y1 * k / 4
        y = top + ph - ph * k / 4
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end">{_k(v)}</text>')
    return out


def _time_axis(x0: float, x1: float, sx: Callable[[float], float], y: float, tz: tzinfo) -> list[str]:
    span = max(60.0, x1 - x0)
    step = next(s for s in (60, 300, 600, 900, 1800, 3600, 7200, 14400, 86400) if span / s <= 10)
    first = (int(x0) // step + 1) * step
    out = [f'<line x1="{sx(x0):.1f}" x2="{sx(x1):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#888"/>']
    for t in range(first, int(x1) + 1, step):
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y:.1f}" y2="{y + 5:.1f}" stroke="#888"/>')
        out.append(f'<text x="{x:.1f}" y="{y + 20:.1f}" font-size="12" text-anchor="middle">'
                   f'{datetime.fromtimestamp(t, tz):%H:%M}</text>')
    return out


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1
    mag = 10 ** (len(str(int(v))) - 1)
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * mag:
            return m * mag
    return v


def _k(v: float) -> str:
    return f"{v / 10000:g}万" if v >= 10000 else f"{v:g}"


def _h2(zh: str, en: str) -> str:
    return f"<h2>{escape(zh)} <span class='en'>{escape(en)}</span></h2>"


def _table(headers: Iterable[str], rows: Iterable[Sequence[object]],
           numeric: set[int] = frozenset(), meaning: set[int] = frozenset(),  # type: ignore[assignment]
           nowrap: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    headers = list(headers)
    item = ' class="item"'
    head = "".join(f"<th{item if i in nowrap else ''}>{escape(h)}</th>" for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            cls = ' class="n"' if i in numeric and isinstance(v, (int, float)) else (
                ' class="meaning"' if i in meaning else ' class="item"' if i in nowrap else "")
            text = f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
            cells.append(f"<td{cls}>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:   # an empty table still says so, like the charts do
        body.append(f'<tr><td class="empty" colspan="{len(headers)}">无数据。No data.</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _t(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S}" if t else ""


def _dur(seconds: float) -> str:
    """0 → 0分00秒, as the CSV's 0 (a blank would read as "unknown")."""
    m, s = divmod(int(round(seconds or 0)), 60)
    return f"{m}分{s:02d}秒"


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


