"""Export after the event: a real SqliteStore filled through its write methods, exported, opened again."""
from __future__ import annotations

import asyncio
import csv
import json
import random
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from stream_ops.config import AudioSettings, ShowConfig, VideoSettings
from stream_ops.jobfair import export
from stream_ops.jobfair.model import check_jobfair
from stream_ops.jobfair.report import CST, Marker, ViewerSample, build_timeline, compute_peaks
from stream_ops.jobfair.sqlite_store import SqliteStore
from stream_ops.jobfair.store import NewApplication, PlatformTotal, Visit, new_withdraw_code
from stream_ops.jobfair.store import ViewerSample as StoredSample

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=CST).timestamp()
PLATFORMS = ("channels", "douyin", "bilibili")
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
MASKED_FILES = ("summary.csv", "employers.csv", "jobs.csv", "timeline.csv", "viewer_samples.csv",
                "platform_totals.csv", "segments.csv", "applications.csv", "report.json", "report.html")


def fair_data() -> dict:
    titles = ["数控车床操作工", "普工", "质检员", "仓库管理员", "叉车司机", "电工"]
    names = ["安阳精密机械有限公司", "新华纺织服装有限公司", "东方电子科技有限公司", "绿源食品有限公司", "顺达物流有限公司"]
    employers = []
    for e in range(5):
        jobs = [{"id": f"J{e * 6 + k + 1:03d}", "title": titles[k], "headcount": 5 + k,
                 "salary": {"min": 4000 + 500 * k, "max": 6000 + 800 * k}, "location": "县经济开发区",
                 "benefits": ["包吃", "包住"]} for k in range(6)]
        employers.append({"id": f"E{e + 1:02d}", "name": names[e], "industry": "制造业", "jobs": jobs})
    return {
        "event": {"name": "春风行动 网络专场招聘会", "organizer": "某县人社局", "contact": "0372-1234567"},
        "platforms": {"channels": {"label": "视频号", "primary": True, "meaning": "视频号后台显示的同时在线人数"},
                      "douyin": {"label": "抖音"}, "bilibili": {"label": "哔哩哔哩"}},
        "employers": employers,
    }


def make_config(tmp: Path, fair: object) -> ShowConfig:
    show = tmp / "show.yaml"
    return ShowConfig(name="春风行动直播", path=show, video=VideoSettings(), audio=AudioSettings(), sources={},
                      scenes={}, outputs={}, start_scene="", data_dir=Path("data"), jobfair=fair)


async def fill(store: SqliteStore, fair: object) -> dict:
    """A two-hour fair: segments, features, ~3700 applications, samples from three sources, visits."""
    rnd = random.Random(5)
    jobs = list(fair.jobs.values())  # type: ignore[attr-defined]
    people = [(rnd.choice(SURNAMES) + "".join(rnd.choices(GIVEN, k=rnd.choice((1, 2)))), f"139{i:08d}")
              for i in range(2500)]
    submissions = []
    for name, phone in people:
        picked = rnd.sample(jobs, k=rnd.choice((1, 1, 2)))
        at = T0 + rnd.uniform(0, 7000)
        submissions.append(([NewApplication(name, phone, j.id, j.employer_id, "n-test") for j in picked], at))
    # The same phone applying to the same job again: stored once.
    for apps, at in submissions[:50]:
        submissions.append((apps[:1], at + 30))
    codes = [new_withdraw_code() for _ in submissions]
    await asyncio.gather(*(store.add_applications(a, code, at=at) for (a, at), code in zip(submissions, codes)))
    first_code = {apps[0].phone: code for (apps, _), code in reversed(list(zip(submissions, codes)))}
    withdrawn = [p for _, p in people[:20]]
    for phone in withdrawn:
        await store.withdraw(phone, first_code[phone], at=T0 + 7100)

    for i, eid in enumerate(fair.employers):  # type: ignore[attr-defined]
        await store.start_marker("segment", eid, at=T0 + i * 1400)
        for k in range(6):
            await store.start_marker("feature", f"J{i * 6 + k + 1:03d}", at=T0 + i * 1400 + k * 230)
    await store.end_marker("feature", at=T0 + 7000)
    await store.end_marker("segment", at=T0 + 7050)

    sources = {"channels": "manual", "douyin": "webhook", "bilibili": "poll"}
    base = {"channels": 6000, "douyin": 3000, "bilibili": 300}
    peaks = {}
    for p in PLATFORMS:
        for m in range(0, 118, 2):
            count = int(base[p] * (1 + 0.4 * rnd.random()))
            peaks[p] = max(peaks.get(p, 0), count)
            await store.add_viewer_sample(StoredSample(T0 + m * 60 + 15, p, count, sources[p]))
    await store.add_visits([Visit(T0 + rnd.uniform(0, 7100), "/apply", None, f"b{i % 900}") for i in range(5000)])
    await store.add_platform_total(PlatformTotal(T0 + 9000, "channels", "total_viewers", 182345, "视频号助手"))
    return {"people": people, "withdrawn": set(withdrawn), "peaks": peaks}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("fair")
    fair, problems = check_jobfair(fair_data(), tmp, validate_schema=True)
    assert fair is not None, problems
    store = SqliteStore(tmp / "data" / "stream-ops.sqlite3")
    try:
        facts = asyncio.run(fill(store, fair))
        apps = store.applications()
    finally:
        store.close()
    config = make_config(tmp, fair)
    t = time.perf_counter()
    assert export.main(config, tmp / "out", unmasked=False) == 0
    masked_s = time.perf_counter() - t
    assert export.main(config, tmp / "out-unmasked", unmasked=True) == 0
    return {"tmp": tmp, "fair": fair, "apps": apps, "masked_s": masked_s, **facts}


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} has no UTF-8 BOM"
    return list(csv.reader(raw.decode("utf-8-sig").splitlines()))


def test_masked_export_writes_every_file_quickly(exported: dict) -> None:
    out = exported["tmp"] / "out"
    for name in (*MASKED_FILES, "report.xlsx"):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob("employer-*")), "per-employer files only with --unmasked"
    assert exported["masked_s"] < 5


def test_csv_numbers_add_up(exported: dict) -> None:
    out, apps = exported["tmp"] / "out", exported["apps"]
    total = len(apps)
    assert 3000 < total < 4500
    summary = {row[1]: row[2] for row in read_csv(out / "summary.csv")[1:]}
    assert int(summary["Job applications"]) == total
    assert int(summary["of which withdrawn"]) == sum(1 for a in apps if a.withdrawn_at)
    assert int(summary["Distinct applicants"]) == len(exported["people"])
    assert int(summary["Apply-page visits"]) == 5000

    employers = read_csv(out / "employers.csv")
    assert employers[0][0] == "编号 ID" and "Applications" in employers[0][6]
    assert len(employers) == 6 and sum(int(r[6]) for r in employers[1:]) == total
    jobs = read_csv(out / "jobs.csv")
    assert len(jobs) == 31 and sum(int(r[7]) for r in jobs[1:]) == total
    e01 = {a.job_id for a in apps if a.employer_id == "E01"}
    assert {r[0] for r in jobs[1:] if r[2] == "E01"} >= e01

    timeline = read_csv(out / "timeline.csv")
    header = timeline[0]
    assert [h for h in header if "viewers" in h] == ["视频号 在线 channels viewers", "抖音 在线 douyin viewers",
                                                     "哔哩哔哩 在线 bilibili viewers"]
    assert sum(int(r[1]) for r in timeline[1:]) == total
    assert sum(int(r[2]) for r in timeline[1:]) == 5000
    assert any("▶ 段落 安阳精密机械有限公司" in r[-1] for r in timeline[1:])
    assert any(r[-2].startswith("J007") for r in timeline[1:])

    samples = read_csv(out / "viewer_samples.csv")
    assert len(samples) == 1 + 3 * 59
    assert {r[2] for r in samples[1:]} == set(PLATFORMS)
    assert any("Webhook" in r[4] for r in samples[1:]) and any("人工录入" in r[4] for r in samples[1:])
    totals = read_csv(out / "platform_totals.csv")
    assert totals[1][1] == "channels" and float(totals[1][3]) == 182345


def test_viewers_are_per_platform_never_summed(exported: dict) -> None:
    out = exported["tmp"] / "out"
    summary = read_csv(out / "summary.csv")[1:]
    peak_rows = [r for r in summary if "peak concurrent viewers" in r[1]]
    assert [int(r[2]) for r in peak_rows] == [exported["peaks"][p] for p in PLATFORMS]
    assert all("不能相加" in r[3] for r in peak_rows)
    everything = sum(exported["peaks"].values())
    assert str(everything) not in (out / "summary.csv").read_text(encoding="utf-8-sig")
    assert "视频号后台显示的同时在线人数" in peak_rows[0][3]


def test_workbook_has_the_sheets_and_totals(exported: dict) -> None:
    wb = openpyxl.load_workbook(exported["tmp"] / "out" / "report.xlsx", read_only=True)
    assert wb.sheetnames[:5] == ["汇总 Summary", "用人单位 Employers", "岗位 Jobs", "时间线 Timeline",
                                 "观看采样 Viewer samples"]
    assert "说明 Notes" in wb.sheetnames
    summary = {r[1]: r[2] for r in wb["汇总 Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Job applications"] == len(exported["apps"])
    employer_apps = [r[6] for r in wb["用人单位 Employers"].iter_rows(min_row=2, values_only=True)]
    assert sum(employer_apps) == len(exported["apps"])
    timeline = list(wb["时间线 Timeline"].iter_rows(values_only=True))
    assert isinstance(timeline[1][0], datetime) and timeline[1][0].hour == 9  # fair clock (UTC+8)
    assert sum(r[1] for r in timeline[1:]) == len(exported["apps"])
    samples = list(wb["观看采样 Viewer samples"].iter_rows(min_row=2, values_only=True))
    assert len(samples) == 3 * 59


def test_json_has_the_same_data(exported: dict) -> None:
    data = json.loads((exported["tmp"] / "out" / "report.json").read_text(encoding="utf-8"))
    assert data["totals"]["applications"] == len(exported["apps"])
    assert data["totals"]["distinct_applicants"] == len(exported["people"])
    assert len(data["jobs"]) == 30 and len(data["employers"]) == 5
    assert {p["platform"]: p["peak"] for p in data["peaks"]} == exported["peaks"]
    assert data["timeline"][0]["at"].endswith("+08:00")
    assert data["summary"][0]["item_zh"] == "节目"


def test_html_is_self_contained_with_charts(exported: dict) -> None:
    html = (exported["tmp"] / "out" / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and 'lang="zh-CN"' in html
    for chart in ('id="viewers-chart"', 'id="job-bars"', 'id="employer-bars"', 'id="minute-chart"'):
        assert chart in html
    assert html.count('class="platform-line"') == 3
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    assert "不能相加" in html


def test_no_full_phone_or_name_in_masked_files(exported: dict) -> None:
    out = exported["tmp"] / "out"
    phone = re.compile(r"1[3-9]\d{9}")
    texts = {name: (out / name).read_text(encoding="utf-8-sig") for name in MASKED_FILES}
    wb = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    texts["report.xlsx"] = "\n".join(str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row)
    full_names = {n for n, _ in exported["people"] if len(n) >= 2}
    for name, text in texts.items():
        assert not phone.search(text), f"full phone number in {name}"
        leaked = [n for n in full_names if n in text]
        assert not leaked, f"full names in {name}: {leaked[:3]}"
    assert re.search(r"139\*\*\*\*\d{4}", texts["applications.csv"])
    assert re.search(r"[王李张刘陈杨黄赵吴周]\*", texts["applications.csv"])


def test_unmasked_writes_employer_files_with_consenting_applicants_only(exported: dict) -> None:
    out = exported["tmp"] / "out-unmasked"
    apps = exported["apps"]
    for eid in ("E01", "E03"):
        [csv_path] = out.glob(f"employer-{eid}-*.csv")
        [xlsx_path] = out.glob(f"employer-{eid}-*.xlsx")
        assert "有限公司" in csv_path.name
        rows = read_csv(csv_path)
        assert rows[0][:3] == ["报名时间 Applied", "姓名 Name", "手机号 Mobile"]
        expected = {(a.phone, a.job_id) for a in apps if a.employer_id == eid and a.withdrawn_at is None}
        assert {(r[2], r[3]) for r in rows[1:]} == expected
        assert not {r[2] for r in rows[1:]} & exported["withdrawn"]
        others = {a.phone for a in apps if a.phone and a.employer_id != eid} - {p for p, _ in expected}
        assert not {r[2] for r in rows[1:]} & others
        ws = openpyxl.load_workbook(xlsx_path, read_only=True).worksheets[0]
        assert sum(1 for _ in ws.iter_rows(min_row=2)) == len(expected)
    # The shared files of an unmasked export stay masked.
    assert not re.search(r"1[3-9]\d{9}", (out / "applications.csv").read_text(encoding="utf-8-sig"))


def test_every_export_is_logged(exported: dict) -> None:
    store = SqliteStore(exported["tmp"] / "data" / "stream-ops.sqlite3")
    try:
        log = store.export_log()
    finally:
        store.close()
    whats = [r.what for r in log]
    assert whats.count("xlsx") == 2 and whats.count("html") == 2 and "csv:summary" in whats
    unmasked = [r for r in log if not r.masked]
    assert unmasked and all(r.what.startswith("employer:") for r in unmasked)
    assert {r.what for r in unmasked} >= {"employer:E01.csv", "employer:E01.xlsx"}
    assert all(r.path.endswith((".csv", ".xlsx", ".json", ".html")) for r in log)


def test_missing_store_exports_zeros_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fair, _ = check_jobfair(fair_data(), tmp_path)
    assert export.main(make_config(tmp_path, fair), tmp_path / "out") == 0
    said = capsys.readouterr().out
    assert "没有找到数据库" in said and "No store" in said
    assert not (tmp_path / "data" / "stream-ops.sqlite3").exists()  # an export never creates a store
    jobs = read_csv(tmp_path / "out" / "jobs.csv")
    assert len(jobs) == 31 and all(r[7] == "0" for r in jobs[1:])
    assert "viewers-chart" not in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_empty_store_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fair, _ = check_jobfair(fair_data(), tmp_path)
    SqliteStore(tmp_path / "data" / "stream-ops.sqlite3").close()
    assert export.main(make_config(tmp_path, fair), tmp_path / "out") == 0
    assert "store is empty" in capsys.readouterr().out


def test_show_without_jobfair_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert export.main(make_config(tmp_path, None), tmp_path / "out") == 1
    assert "jobfair:" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_csv_cells_cannot_become_formulas(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    export.write_csv(path, ["a"], [["=HYPERLINK(\"x\")"], ["-5"], ["+86 phone"], ["\t=1+1"], ["\r=1+1"],
                                   ["@SUM(A1)"], ["-١٢"]])
    raw = path.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(raw.splitlines(keepends=True)))
    assert rows[1] == ["'=HYPERLINK(\"x\")"] and rows[2] == ["-5"] and rows[3] == ["'+86 phone"]
    assert rows[4] == ["'\t=1+1"] and rows[5] == ["'\r=1+1"] and rows[6] == ["'@SUM(A1)"]
    assert rows[7] == ["'-١٢"]   # only ASCII digits make a cell "a number"


# --------------------------------------------------------------------------- pure parts

def _t(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 1, 9, minute, second, tzinfo=timezone(timedelta(hours=8)))


def test_timeline_takes_latest_sample_and_carries_forward_ten_minutes() -> None:
    samples = [ViewerSample(_t(0, 10), "douyin", 100, "manual"), ViewerSample(_t(0, 50), "douyin", 120, "manual"),
               ViewerSample(_t(1, 5), "channels", 900, "webhook")]
    markers = [Marker("segment", "E01", "甲公司", _t(0, 20), _t(2, 40))]
    rows = build_timeline(_t(0), _t(14), [_t(0, 5), _t(0, 6), _t(3)], [_t(1)], samples, markers,
                          ["channels", "douyin"])
    assert len(rows) == 15
    assert rows[0].viewers == {"channels": None, "douyin": 120} and rows[0].fresh["douyin"]
    assert rows[1].viewers == {"channels": 900, "douyin": 120} and not rows[1].fresh["douyin"]
    assert rows[10].viewers["douyin"] == 120 and rows[11].viewers["douyin"] is None
    assert [r.applications for r in rows[:4]] == [2, 0, 0, 1] and rows[1].visits == 1
    assert rows[0].segment == "甲公司" and rows[2].segment == "甲公司" and rows[3].segment == ""
    assert "▶ 段落 甲公司" in rows[0].events and "■ 段落 甲公司" in rows[2].events


def test_peak_keeps_time_and_source_of_first_maximum() -> None:
    samples = [ViewerSample(_t(1), "channels", 50, "manual"), ViewerSample(_t(2), "channels", 80, "webhook"),
               ViewerSample(_t(3), "channels", 80, "manual"), ViewerSample(_t(2), "youtube", 7, "youtube")]
    peaks = compute_peaks(samples, ["channels", "douyin"])
    assert [(p.platform, p.peak, p.at, p.source, p.samples) for p in peaks] == [
        ("channels", 80, _t(2), "webhook", 3), ("youtube", 7, _t(2), "youtube", 1)]


def test_report_html_says_what_the_csv_says_on_a_fresh_fair(tmp_path: Path) -> None:
    from stream_ops.jobfair.report import empty_report
    from stream_ops.jobfair.report_html import render_html

    fair, _ = check_jobfair(fair_data(), tmp_path)
    r = empty_report(fair, "show")
    page = render_html(r)
    t = {tb.stem: tb for tb in export.tables(r)}
    assert t["summary"].headers[:2] == ["项目", "Item"]                  # not "项目 Item,Item"
    employers_html = page.split("<h2>用人单位 <span class='en'>Employers</span></h2>")[1].split("</table>")[0]
    assert employers_html.count("0分00秒") == len(fair.employers)      # the CSV says 0, not blank
    jobs_html = page.split("<h2>岗位 <span class='en'>Jobs</span></h2>")[1].split("</table>")[0]
    assert "报名人数 Applicants" in jobs_html and jobs_html.count("0分00秒") == len(fair.jobs)
    segments_html = page.split("Segments and featured jobs</span></h2>")[1].split("</table>")[0]
    assert "无数据" in segments_html and "No data" in segments_html
    assert 'class="item">招聘会<' in page and "td.item,th.item{white-space:nowrap}" in page
    assert any("unique" in row[1].lower() or "visitors" in row[1].lower() for row in t["summary"].rows)


@pytest.mark.slow
def test_export_reads_a_postgresql_store(tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The export opens the show's store through `open_store`, whatever the engine."""
    import dataclasses

    from stream_ops.config import Secret
    from stream_ops.jobfair.stores import open_store

    fair, _ = check_jobfair(fair_data(), tmp_path)
    fair = dataclasses.replace(fair, store=Secret(postgres_url))
    store = open_store(postgres_url, tmp_path)
    assert store is not None
    try:
        asyncio.run(store.add_applications([NewApplication("张三", "13800000001", "J001", "E01", "n")],
                                           new_withdraw_code()))
    finally:
        store.close()
    assert export.main(make_config(tmp_path, fair), tmp_path / "out") == 0
    summary = {row[1]: row[2] for row in read_csv(tmp_path / "out" / "summary.csv")[1:]}
    assert summary["Job applications"] == "1" and summary["Distinct applicants"] == "1"
    assert not (tmp_path / "data").exists()                       # no SQLite file appeared
