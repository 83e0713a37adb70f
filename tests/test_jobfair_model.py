"""Fair data checks (check_jobfair), credit codes, discriminatory wording, masking."""
from __future__ import annotations

from pathlib import Path

import pytest

from stream_ops.jobfair import privacy
from stream_ops.jobfair.model import check_jobfair, load_fair_file
from stream_ops.jobfair.wording import find_discrimination

SCENES = Path(__file__).resolve().parent.parent / "scenes"


def fair(**over) -> dict:
    data = {
        "event": {"name": "测试招聘会", "organizer": "某人社局", "contact": "0797-1234567"},
        "platforms": {"channels": "视频号", "douyin": {"label": "抖音"}},
        "sessions": [{"id": "S1", "employers": ["E01"]}],
        "employers": [{"id": "E01", "name": "某公司", "credit_code": "91360727MA35XXXXXR",
                       "jobs": [{"id": "J001", "title": "普工", "headcount": 5,
                                 "salary": {"min": 4500, "max": 6500}}]}],
    }
    data.update(over)
    return data


def messages(problems, severity=None):
    return [(p.path, p.message) for p in problems if severity is None or p.severity == severity]


def test_good_fair_builds() -> None:
    f, problems = check_jobfair(fair(), Path("."), validate_schema=True)
    assert problems == []
    assert f is not None and list(f.jobs) == ["J001"]
    assert f.jobs["J001"].salary.display() == "4500-6500元/月"
    assert f.primary_platform == "channels"
    assert f.notice_version.startswith("n-")


def test_example_fair_is_clean() -> None:
    f, lines = load_fair_file(SCENES / "fair" / "fair.yaml")
    assert lines == []
    assert f is not None and len(f.employers) == 5 and len(f.jobs) == 30 and len(f.platforms) == 3


def test_cross_reference_errors() -> None:
    data = fair(sessions=[{"id": "S1", "employers": ["E09"]}])
    data["employers"].append({"id": "E01", "name": "重复"})
    data["employers"][0]["jobs"].append({"id": "J001", "title": "重复岗位"})
    data["employers"][0]["jobs"][0]["salary"] = {"min": 8000, "max": 5000}
    data["employers"][0]["jobs"][0]["headcount"] = 0
    f, problems = check_jobfair(data, Path("."))
    assert f is None
    errors = dict(messages(problems, "error"))
    assert "unknown employer E09" in errors[("sessions", 0, "employers", 0)]
    assert "duplicate employer id E01" in errors[("employers", 1, "id")]
    assert "duplicate job id J001" in errors[("employers", 0, "jobs", 1, "id")]
    assert "above salary.max" in errors[("employers", 0, "jobs", 0, "salary", "min")]
    assert "at least 1" in errors[("employers", 0, "jobs", 0, "headcount")]


@pytest.mark.parametrize("code,severity,words", [
    ("91360727MA35XXXXXR", None, None),
    ("91360727MA35XXXXXA", "warning", "expected R"),
    ("91360727MA35XXXXX", "error", "17 characters"),
    ("91360727MA35XXXXXO", "error", "contains O"),
    ("91360727ma35xxxxxr", None, None),          # lower case is read as upper case
])
def test_credit_code(code: str, severity: str | None, words: str | None) -> None:
    data = fair()
    data["employers"][0]["credit_code"] = code
    _, problems = check_jobfair(data, Path("."))
    found = [p for p in problems if p.path == ("employers", 0, "credit_code")]
    if severity is None:
        assert found == []
    else:
        assert found[0].severity == severity and words in found[0].message


def test_credit_code_checksum_known_value() -> None:
    # A well-known published example of a valid unified social credit code.
    assert privacy.credit_code_checksum_ok("91350100M000100Y43")
    assert not privacy.credit_code_checksum_ok("91350100M000100Y44")


@pytest.mark.parametrize("text,category", [
    ("限男性", "sex"), ("男性优先", "sex"), ("女性不要", "sex"), ("性别：男", "sex"), ("Male only", "sex"),
    ("women preferred", "sex"), ("仅限汉族", "ethnicity"), ("汉族优先", "ethnicity"), ("Han only", "ethnicity"),
    ("无宗教信仰", "religion"), ("Christians preferred", "religion"), ("已婚已育", "marital"), ("未婚", "marital"),
    ("married, with children", "marital"), ("限本地户籍", "origin"), ("本地人优先", "origin"), ("locals only", "origin"),
])
def test_discriminatory_wording_found(text: str, category: str) -> None:
    assert category in [f.category for f in find_discrimination(f"18-45岁，{text}，吃苦耐劳")]


@pytest.mark.parametrize("text", ["男女不限", "性别不限，婚否不限", "五险一金（含生育保险）", "18-45岁，身体健康",
                                  "只招工人，有经验优先", "能搬运 25 公斤货物", "工作地点限龙南市", "single shift"])
def test_harmless_wording_not_flagged(text: str) -> None:
    assert find_discrimination(text) == []


def test_wording_is_a_warning_with_the_law() -> None:
    data = fair()
    data["employers"][0]["jobs"][0]["requirements"] = "仅限男性，已婚已育"
    f, problems = check_jobfair(data, Path("."))
    assert f is not None   # warnings do not stop the show
    warns = messages(problems, "warning")
    assert [p for p, _ in warns] == [("employers", 0, "jobs", 0, "requirements")] * 2
    assert "人力资源市场暂行条例" in warns[0][1] and "「仅限男性」" in warns[0][1]


def test_include_reports_file_line_col(tmp_path: Path) -> None:
    (tmp_path / "fair").mkdir()
    (tmp_path / "fair" / "fair.yaml").write_text(
        "event: {name: 测试}\n"
        "employers:\n"
        "  - id: E01\n"
        "    name: 某公司\n"
        "    jobs:\n"
        "      - {id: J001, title: 普工, salary: {min: 9000, max: 5000}}\n"
        "      - {id: J001, title: 重复}\n", encoding="utf-8")
    f, problems = check_jobfair({"include": "fair/fair.yaml"}, tmp_path)
    assert f is None
    msgs = [p.message for p in problems if p.severity == "error"]
    assert all(p.path == ("include",) for p in problems)
    assert any(m.startswith("in fair/fair.yaml:6:45: salary.min 9000") for m in msgs), msgs
    assert any(m.startswith("in fair/fair.yaml:7:14: duplicate job id J001") for m in msgs), msgs


def test_include_missing_and_schema(tmp_path: Path) -> None:
    _, problems = check_jobfair({"include": "nope.yaml"}, tmp_path)
    assert "cannot read nope.yaml" in problems[0].message
    (tmp_path / "f.yaml").write_text("event: {name: x}\nemployers: []\nbogus: 1\n", encoding="utf-8")
    _, problems = check_jobfair({"include": "f.yaml"}, tmp_path)
    assert any("in f.yaml:1:1" in p.message and "bogus" in p.message for p in problems)


def test_poll_keys_only_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YT_TEST_KEY", "sekrit")
    good = fair(platforms={"youtube": {"label": "YouTube", "poll": {
        "kind": "youtube", "video_id": "abc", "api_key": "${YT_TEST_KEY}"}}})
    f, problems = check_jobfair(good, Path("."))
    assert problems == [] and f.platforms["youtube"].poll.api_key.reveal() == "sekrit"
    assert "sekrit" not in repr(f.platforms["youtube"])
    literal = fair(platforms={"youtube": {"poll": {"kind": "youtube", "video_id": "abc", "api_key": "AIzaLiteral"}}})
    _, problems = check_jobfair(literal, Path("."))
    assert "environment" in problems[0].message and problems[0].severity == "error"
    unset = fair(platforms={"youtube": {"poll": {"kind": "youtube", "video_id": "abc", "api_key": "${NOPE_UNSET}"}}})
    f, problems = check_jobfair(unset, Path("."))
    assert problems[0].severity == "warning" and f.platforms["youtube"].poll is None


@pytest.mark.parametrize("raw,ok", [("13812345678", True), ("+86 138-1234-5678", True), ("12812345678", False),
                                    ("1381234567", False), ("138123456789", False), ("abc", False)])
def test_mobile(raw: str, ok: bool) -> None:
    assert privacy.valid_mobile(privacy.normalize_mobile(raw)) is ok


def test_masking() -> None:
    assert privacy.mask_phone("13812345678") == "138****5678"
    assert privacy.mask_name("张三") == "张*"
    assert privacy.mask_name("张三丰") == "张**"
    assert privacy.mask_name("John Smith") == "J***"
    assert privacy.mask_name("") == ""


@pytest.mark.parametrize("name,ok", [("张三", True), ("阿依古丽·买买提", True), ("John Smith", True),
                                     ("<script>", False), ("张三1", False), ("", False), ("张" * 21, False),
                                     ("·", False)])
def test_names(name: str, ok: bool) -> None:
    assert privacy.valid_name(name) is ok


def test_store_url_and_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIR_DB_PW", "hunter2-secret")
    f, problems = check_jobfair(fair(store="postgresql://apply:${FAIR_DB_PW}@db.example.invalid/fair"), SCENES)
    assert f is not None and not messages(problems, "error")
    assert f.store.reveal() == "postgresql://apply:hunter2-secret@db.example.invalid/fair"
    assert "hunter2" not in str(f.store) and "hunter2" not in repr(f)          # never shown
    f, problems = check_jobfair(fair(store={"url": "postgresql://apply@db.example.invalid/fair",
                                            "password": "${FAIR_DB_PW}"}), SCENES)
    assert f is not None and f.store_password.reveal() == "hunter2-secret"
    assert check_jobfair(fair(), SCENES)[0].store is None                       # default: SQLite


@pytest.mark.parametrize("store,where,words", [
    ("mysql://apply@db/fair", ("store",), "postgresql://"),
    ({"url": "postgresql://apply@db/fair", "password": "${NOT_SET_ANYWHERE}"}, ("store", "password"),
     "NOT_SET_ANYWHERE is not set"),
    ({"url": "postgresql://apply@db/fair", "user": "x"}, ("store", "user"), "unknown key user"),
])
def test_store_mistakes_point_at_the_key(store: object, where: tuple, words: str) -> None:
    f, problems = check_jobfair(fair(store=store), SCENES)
    errors = [p for p in problems if p.severity == "error"]
    assert f is None and any(p.path == where and words in p.message for p in errors), messages(problems)


def test_store_may_sit_beside_include_and_errors_have_file_line_col(tmp_path: Path) -> None:
    show = tmp_path / "show.yaml"
    show.write_text("show: {name: t, data_dir: data}\n"
                    "sources: {c: {kind: color, color: \"#000000\"}}\n"
                    "scenes: {s: {layers: [{source: c}]}}\n"
                    "outputs: {}\n"
                    "jobfair:\n"
                    f"  include: {SCENES / 'fair' / 'fair.yaml'}\n"
                    "  store: \"mysql://apply@db/fair\"\n", encoding="utf-8")
    from stream_ops.showfile import ShowFileError, load_show
    with pytest.raises(ShowFileError) as err:
        load_show(show, env={})
    said = str(err.value)
    assert f"{show}:7:10:" in said and "postgresql://USER@HOST/DB" in said, said
    show.write_text(show.read_text(encoding="utf-8").replace("mysql://apply@db/fair",
                                                             "postgresql://apply@db.example.invalid/fair"))
    config, _ = load_show(show, env={})
    assert config.jobfair.store.reveal() == "postgresql://apply@db.example.invalid/fair"
