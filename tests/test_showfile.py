"""Show file loading: every problem at its FILE:LINE:COL, in the producer's words."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from stream_ops.config import Rect, Secret
from stream_ops.problems import ShowFileError
from stream_ops.schema import show_schema
from stream_ops.showfile import check_show_text, load_show, parse_yaml

ROOT = Path(__file__).resolve().parents[1]
ENV = {"CHANNELS_KEY": "sk-live-0123456789"}

GOOD = """\
show:
  name: 测试
  video: {width: 1280, height: 720, fps: 30}
sources:
  cam1: {kind: rtmp, listen: "rtmp://0.0.0.0:1935/live/cam1"}
  cam2: {kind: srt, listen: "srt://0.0.0.0:9000"}
scenes:
  host:
    layers:
      - {source: cam1}
      - {source: cam2, rect: [880, 40, 360, 202]}
outputs:
  channels: {kind: rtmp, url: "rtmp://push.example.invalid/live", key: "${CHANNELS_KEY}"}
"""


def check(text: str, tmp_path: Path, env: dict | None = None):
    return check_show_text(textwrap.dedent(text), "show.yaml", ENV if env is None else env, base_dir=tmp_path)


def errors(text: str, tmp_path: Path, env: dict | None = None) -> list[str]:
    with pytest.raises(ShowFileError) as info:
        check(text, tmp_path, env)
    return info.value.lines


def only(text: str, tmp_path: Path, env: dict | None = None) -> str:
    lines = errors(text, tmp_path, env)
    assert len(lines) == 1, lines
    return lines[0]


def test_good_file_loads(tmp_path):
    config, warnings = check(GOOD, tmp_path)
    assert warnings == []
    assert config.name == "测试"
    assert list(config.sources) == ["cam1", "cam2"]
    assert config.start_scene == "host"
    assert config.scenes["host"].layers[1].rect == Rect(880, 40, 360, 202)
    assert config.outputs["channels"].target_url() == "rtmp://push.example.invalid/live/sk-live-0123456789"


def test_full_example_validates():
    config, warnings = load_show(ROOT / "scenes/examples/full.yaml", env=ENV)
    assert warnings == []
    assert len(config.sources) == 8 and config.start_scene == "host"
    assert config.sources["promo"].path == (ROOT / "scenes/assets/promo.mp4").resolve()
    assert config.sources["phone1"].options == {"max_width": 1280, "max_height": 720,
                                                "max_bitrate_kbps": 2500, "facing": "environment"}
    host = config.scenes["host"]
    assert [l.kind for l in host.layers] == ["source", "source", "text", "image", "color", "qr", "jobcard"]
    assert host.layers[4].color == "#00000080" and host.layers[2].color == "#ffffff"
    assert host.heard_sources() == ("cam1",)


def test_secret_never_in_repr(tmp_path):
    config, _ = check(GOOD, tmp_path)
    assert isinstance(config.outputs["channels"].key, Secret)
    assert "sk-live" not in repr(config) and "sk-live" not in str(config)


def test_env_in_url_becomes_secret(tmp_path):
    text = GOOD.replace('url: "rtmp://push.example.invalid/live"', 'url: "rtmp://push.example.invalid/${APP}"')
    config, _ = check(text, tmp_path, {**ENV, "APP": "hidden-app"})
    out = config.outputs["channels"]
    assert isinstance(out.url, Secret) and "hidden-app" not in repr(config)
    assert out.target_url().startswith("rtmp://push.example.invalid/hidden-app/")


def test_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(show_schema())


def test_positions_for_keys_and_values():
    doc = parse_yaml(GOOD)
    pos = doc.positions[("scenes", "host", "layers", 1, "rect")]
    assert (pos.key_line, pos.key_col, pos.line, pos.col) == (11, 24, 11, 30)
    assert doc.data["scenes"]["host"]["layers"][1]["rect"] == [880, 40, 360, 202]


def test_syntax_error_has_position(tmp_path):
    line = only("show:\n  name: [unclosed\nscenes: {}\n", tmp_path)
    assert line.startswith("show.yaml:3:") and "YAML syntax error" in line


def test_tab_indent_hint(tmp_path):
    assert "not tabs" in only("show:\n\tname: x\n", tmp_path)


def test_empty_file(tmp_path):
    assert only("# nothing\n", tmp_path) == ("show.yaml:1:1: the show file is empty; start with 'show:', "
                                               "'sources:' and 'scenes:' (see docs/showfile.md)")


def test_top_level_list(tmp_path):
    assert "the top level must be a mapping" in only("- cam1\n- cam2\n", tmp_path)


def test_duplicate_source_at_second(tmp_path):
    text = GOOD.replace("  cam2: {kind: srt", "  cam1: {kind: srt")
    assert errors(text, tmp_path)[0] == \
        "show.yaml:6:3: duplicate source name 'cam1' (first at line 5); give each a different name"


def test_unknown_key_did_you_mean(tmp_path):
    text = GOOD.replace('cam2: {kind: srt, listen:', 'cam2: {kind: srt, lisen:')
    lines = errors(text, tmp_path)
    assert "show.yaml:6:21: unknown key 'lisen' in source 'cam2' (did you mean 'listen'?)" in lines
    assert "show.yaml:6:3: source 'cam2' needs 'listen', e.g. listen: \"srt://0.0.0.0:9000\"" in lines


def test_unknown_top_level_key(tmp_path):
    assert only(GOOD + "sorces: {}\n", tmp_path) == \
        "show.yaml:14:1: unknown key 'sorces' in the top level (did you mean 'sources'?)"


def test_key_belongs_to_other_kind(tmp_path):
    text = GOOD + '  gw: {kind: srt, url: "srt://192.0.2.20:9000", key: abc}\n'
    assert only(text, tmp_path) == "show.yaml:14:49: unknown key 'key' in output 'gw': 'key' is for rtmp outputs, not srt ones"


def test_wrong_type(tmp_path):
    text = GOOD.replace("fps: 30", "fps: thirty")
    assert only(text, tmp_path) == 'show.yaml:3:42: expected a whole number for \'fps\' in show.video, got "thirty"'


def test_quoted_number_hint(tmp_path):
    assert 'write 30 without quotes' in only(GOOD.replace("fps: 30", 'fps: "30"'), tmp_path)


def test_enum_lists_allowed(tmp_path):
    line = only(GOOD.replace("cam2: {kind: srt,", "cam2: {kind: sr,"), tmp_path)
    assert line.startswith("show.yaml:6:16: 'kind' in source 'cam2' must be one of: rtmp, srt, pull, file, image,")
    assert line.endswith("got \"sr\" (did you mean 'srt'?)")


def test_missing_source_did_you_mean(tmp_path):
    text = GOOD.replace("{source: cam2, rect", "{source: camera2, rect")
    assert only(text, tmp_path) == ("show.yaml:11:18: no source named 'camera2' (did you mean 'cam2'?); "
                                    "sources are: cam1, cam2")


def test_rect_outside_canvas_says_by_how_much(tmp_path):
    text = GOOD.replace("[880, 40, 360, 202]", "[1000, 600, 360, 202]")
    lines = errors(text, tmp_path)
    assert len(lines) == 2
    assert lines[0].startswith("show.yaml:11:30: rect [1000, 600, 360, 202] goes 80 px past the right edge")
    assert "make x at most 920 or w at most 280" in lines[0]
    assert "goes 82 px past the bottom edge" in lines[1]


def test_rect_needs_positive_size_and_four_numbers(tmp_path):
    assert "width and height must be positive" in only(GOOD.replace("[880, 40, 360, 202]", "[880, 40, 0, 202]"), tmp_path)
    line = only(GOOD.replace("[880, 40, 360, 202]", "[880, 40, 360]"), tmp_path)
    assert line == ("show.yaml:11:30: 'rect' in layer 2 of scene 'host' must be four whole numbers [x, y, w, h], "
                    "e.g. rect: [880, 40, 360, 202], got a list of 3 items")


def test_unset_env_var(tmp_path):
    assert only(GOOD, tmp_path, env={}) == (
        "show.yaml:13:72: environment variable CHANNELS_KEY is not set; export it before running, "
        "never write the key in the file")


def test_literal_key_is_a_warning(tmp_path):
    config, warnings = check(GOOD.replace('"${CHANNELS_KEY}"', "live_123"), tmp_path)
    assert warnings == ["show.yaml:13:72: warning: write key: ${CHANNELS_KEY} and set it in the environment; "
                        "keys in the file end up in git"]
    assert isinstance(config.outputs["channels"].key, Secret) and "live_123" not in repr(config)


def test_layer_needs_exactly_one_kind(tmp_path):
    text = GOOD.replace("- {source: cam1}", "- {source: cam1, text: x}")
    assert only(text, tmp_path).startswith("show.yaml:10:9: layer 1 of scene 'host' has source and text;")
    text = GOOD.replace("- {source: cam1}", "- {opacity: 0.5}")
    assert "needs one of source, image, text, qr, jobcard, color" in only(text, tmp_path)


def test_text_layer_with_color_is_a_text_layer(tmp_path):
    text = GOOD.replace("- {source: cam1}", '- {text: 欢迎, color: "#ffcc00", rect: [0, 0, 100, 40]}')
    config, _ = check(text, tmp_path)
    layer = config.scenes["host"].layers[0]
    assert (layer.kind, layer.text, layer.color) == ("text", "欢迎", "#ffcc00")


def test_bad_colour(tmp_path):
    text = GOOD.replace("- {source: cam1}", "- {color: red}")
    assert 'must be a colour like "#ff0000"' in only(text, tmp_path)


def test_crop_must_leave_something(tmp_path):
    text = GOOD.replace("- {source: cam1}", "- {source: cam1, crop: [0.5, 0, 0.5, 0]}")
    assert "left + right must be less than 1" in only(text, tmp_path)


def test_missing_and_present_files(tmp_path):
    from PIL import Image
    (tmp_path / "assets").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "assets" / "logo.png")
    text = GOOD.replace("- {source: cam1}", "- {image: assets/logo.png}")
    config, _ = check(text, tmp_path)
    assert config.scenes["host"].layers[0].image == (tmp_path / "assets/logo.png").resolve()
    text = GOOD.replace("- {source: cam1}", "- {image: assets/nope.png}")
    assert only(text, tmp_path).startswith("show.yaml:10:17: file not found: assets/nope.png")


def test_listen_urls_and_ports(tmp_path):
    text = GOOD.replace('"rtmp://0.0.0.0:1935/live/cam1"', '"rtmp://0.0.0.0/live"')
    assert 'must look like "rtmp://0.0.0.0:1935/live/cam1"' in only(text, tmp_path)
    text = GOOD.replace('"srt://0.0.0.0:9000"', '"srt://0.0.0.0:1935"')
    assert only(text, tmp_path) == ("show.yaml:6:29: port 1935 is already used by source 'cam1'; each listening "
                                    "source needs its own port (ffmpeg binds one listener per port)")


def test_output_scheme_and_file_path(tmp_path):
    text = GOOD.replace('url: "rtmp://push', 'url: "srt://push')
    assert "must start with rtmp:// or rtmps://" in only(text, tmp_path)
    assert only(GOOD + "  rec: {kind: file}\n", tmp_path) == (
        "show.yaml:14:3: output 'rec' needs 'path', e.g. path: \"recordings/{show}-{start:%Y%m%d-%H%M%S}.ts\"")


def test_start_scene_and_scenes(tmp_path):
    text = GOOD.replace("  name: 测试\n", "  name: 测试\n  start_scene: hots\n")
    assert only(text, tmp_path) == "show.yaml:3:16: no scene named 'hots' (did you mean 'host'?); scenes are: host"
    text = GOOD.split("scenes:")[0] + "scenes: {}\n"
    assert "needs at least one scene" in only(text, tmp_path)
    assert only("show: {name: x}\n", tmp_path) == "show.yaml:1:1: the show file needs a 'scenes:' section"


def test_video_checks(tmp_path):
    lines = errors(GOOD.replace("width: 1280", "width: 1279").replace("fps: 30", "fps: 0"), tmp_path)
    assert any("show.yaml:3:18: 'width' in show.video must be an even whole number" in l for l in lines)
    assert "show.yaml:3:42: 'fps' in show.video must be at least 1, got 0" in lines


def test_every_problem_reported(tmp_path):
    text = (GOOD.replace("fps: 30", "fps: thirty").replace("{source: cam2,", "{source: cam9,")
            .replace("cam1: {kind: rtmp,", "cam1: {kind: rtmp, gain: 3,"))
    lines = errors(text, tmp_path, env={})
    assert len(lines) == 4
    assert [l.split(":")[1] for l in lines] == ["3", "5", "11", "13"]   # sorted by line


def test_grid_expands_to_layers_at_the_back(tmp_path):
    text = GOOD.replace("  host:\n", "  host:\n    grid: {columns: 2, sources: [cam1, cam2, cam1], gap: 10}\n")
    config, _ = check(text, tmp_path)
    layers = config.scenes["host"].layers
    assert [l.source for l in layers[:3]] == ["cam1", "cam2", "cam1"]
    assert layers[0].rect == Rect(0, 0, 634, 354) and layers[1].rect == Rect(644, 0, 634, 354)
    assert layers[2].rect == Rect(0, 364, 634, 354)


def test_grid_names_checked(tmp_path):
    text = GOOD.replace("  host:\n", "  host:\n    grid: {columns: 2, sources: [cam1, cma2]}\n")
    assert only(text, tmp_path) == ("show.yaml:9:40: no source named 'cma2' (did you mean 'cam2'?); "
                                    "sources are: cam1, cam2")


def test_merge_keys_and_dates(tmp_path):
    text = GOOD.replace("  cam2: {kind: srt,", "  cam2: {<<: {kind: srt, label: 二号},") + "\n"
    config, _ = check(text, tmp_path)
    assert config.sources["cam2"].label == "二号"
    doc = parse_yaml("when: 2026-12-01\n")
    assert doc.data == {"when": "2026-12-01"}


def test_missing_file_cli_message(tmp_path):
    with pytest.raises(ShowFileError) as info:
        load_show(tmp_path / "nope.yaml")
    assert info.value.lines == [f"{tmp_path / 'nope.yaml'}: no such file"]


def test_jobfair_hook_prefixes_paths_and_keeps_warnings(tmp_path, monkeypatch):
    import stream_ops.jobfair.model as model
    import stream_ops.showfile as showfile
    from stream_ops.problems import Problem

    schema = show_schema()
    schema["properties"]["jobfair"] = {"type": "object"}
    monkeypatch.setattr(showfile, "show_schema", lambda: schema)
    seen = {}

    def fake_check(data, base_dir):
        seen["args"] = (data, base_dir)
        return "FAIR", [Problem(("employers", 0, "name"), "name is short", severity="warning")]

    monkeypatch.setattr(model, "check_jobfair", fake_check)
    text = GOOD + "jobfair:\n  employers:\n    - {name: A}\n"
    config, warnings = check(text, tmp_path)
    assert config.jobfair == "FAIR" and seen["args"] == ({"employers": [{"name": "A"}]}, tmp_path)
    assert warnings == ["show.yaml:16:14: warning: name is short"]


def test_ice_servers_for_phones(tmp_path):
    text = GOOD.replace("  video: {width: 1280, height: 720, fps: 30}\n", """  video: {width: 1280, height: 720, fps: 30}
  ice_servers:
    - {urls: "stun:stun.example.cn:3478"}
    - {urls: ["turn:turn.example.cn:3478?transport=udp"], username: live, credential: "${TURN_PASSWORD}"}
""")
    config, _ = check(text, tmp_path, {**ENV, "TURN_PASSWORD": "turn-secret-42"})
    stun, turn = config.ice_servers
    assert stun.urls == ("stun:stun.example.cn:3478",) and stun.for_peer() == {"urls": ["stun:stun.example.cn:3478"]}
    assert turn.for_peer()["credential"] == "turn-secret-42"
    assert "turn-secret-42" not in repr(config)
    bad = text.replace('urls: "stun:stun.example.cn:3478"', 'urls: "http://stun.example.cn"')
    assert "ice_servers" in " ".join(errors(bad, tmp_path, {**ENV, "TURN_PASSWORD": "x"}))


CANVASES = """\
show:
  video: {width: 1280, height: 720}
  canvases:
    portrait: {width: 720, height: 1280, label: 竖屏}
sources:
  cam1: {kind: color, color: "#ff0000"}
scenes:
  host:
    layers: [{source: cam1}]
    focus: [0.5, 0.4]
    layouts:
      portrait: [{source: cam1, rect: [0, 0, 720, 1280], fit: cover}, {text: hi, rect: [20, 1100, 680, 80]}]
outputs:
  douyin: {kind: file, path: "rec/{show}.ts", canvas: portrait}
  record: {kind: file, path: "rec/{show}-main.ts"}
"""


def test_canvases_layouts_and_output_canvas_load(tmp_path):
    config, _ = check(CANVASES, tmp_path)
    assert list(config.all_canvases()) == ["main", "portrait"]
    portrait = config.canvases["portrait"]
    assert (portrait.width, portrait.height, portrait.bitrate_kbps, portrait.label) == (720, 1280, 3000, "竖屏")
    host = config.scenes["host"]
    assert host.focus == (0.5, 0.4) and host.layouts["portrait"][1].rect == Rect(20, 1100, 680, 80)
    assert config.outputs["douyin"].canvas == "portrait" and config.outputs["record"].canvas == "main"


def test_layout_rects_are_checked_against_their_own_canvas(tmp_path):
    # 700 wide fits the 1280 main canvas but not the 720-wide portrait one; 1200 tall the reverse.
    text = CANVASES.replace("{text: hi, rect: [20, 1100, 680, 80]}", "{text: hi, rect: [100, 1100, 700, 80]}")
    text = text.replace("layers: [{source: cam1}]", "layers: [{source: cam1, rect: [0, 0, 720, 1200]}]")
    lines = errors(text, tmp_path)
    assert len(lines) == 2, lines
    assert lines[0].startswith("show.yaml:9:35:") and "1200" in lines[0] and "1280x720" in lines[0]
    assert lines[1].startswith("show.yaml:12:") and "past the right edge of the 720x1280 canvas" in lines[1]


def test_unknown_canvas_names_did_you_mean(tmp_path):
    text = CANVASES.replace("      portrait: [", "      portrat: [").replace("canvas: portrait", "canvas: portriat")
    lines = errors(text, tmp_path)
    assert len(lines) == 2, lines
    assert lines[0].startswith("show.yaml:12:7: no canvas named 'portrat' (did you mean 'portrait'?)")
    assert lines[1].startswith("show.yaml:14:55:") and "no canvas named 'portriat' (did you mean 'portrait'?)" in lines[1]


def test_one_canvas_show_says_how_to_declare_another(tmp_path):
    text = GOOD.replace("  channels: {kind: rtmp", "  channels: {canvas: portrait, kind: rtmp")
    line = only(text, tmp_path)
    assert line.startswith("show.yaml:13:") and "declare others under show: canvases:" in line


def test_canvas_names_and_sizes(tmp_path):
    text = CANVASES.replace("portrait: {width: 720, height: 1280, label: 竖屏}", "main: {width: 721, height: 1280}")
    lines = errors(text, tmp_path)
    assert any("'width' in show.canvases.main must be an even whole number" in l or "721" in l for l in lines), lines
    assert any("canvas name 'main' is the canvas video: describes" in l for l in lines), lines


def test_layout_layer_problems_name_the_canvas(tmp_path):
    text = CANVASES.replace("{source: cam1, rect: [0, 0, 720, 1280], fit: cover}", "{source: cam2, crop: [0, 0, 0, 0], text: x}")
    lines = errors(text, tmp_path)
    assert any("layer 1 of scene 'host' on canvas 'portrait'" in l for l in lines), lines
