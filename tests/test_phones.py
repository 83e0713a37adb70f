"""Phones and WHIP: real aiortc publishers over loopback into real source slots."""
from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from stream_ops.phones import sdp
from stream_ops.phones.hub import token_env

from phone_fixtures import (OPERATOR, WhipClient, audio_rms_dbfs, hub_show, is_color, serve_hub, slot_rgb,
                            wait_for)

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


# --- SDP checks (no network) -------------------------------------------------------
OFFER = """v=0
o=- 1 1 IN IP4 0.0.0.0
s=-
t=0 0
a=fingerprint:sha-256 AB:CD
m=video 9 UDP/TLS/RTP/SAVPF 96
c=IN IP4 0.0.0.0
a=ice-ufrag:abcd
a=sendonly
a=rtpmap:96 {codec}/90000
"""


def test_sdp_check_accepts_vp8_and_h264() -> None:
    sdp.check_offer(OFFER.format(codec="VP8"))
    sdp.check_offer(OFFER.format(codec="H264"))


@pytest.mark.parametrize("text, reason", [
    ("", "empty body"),
    ("hello", "v=0"),
    ("v=0\ns=-\n", "no m= section"),
    (OFFER.format(codec="AV1"), "cannot be decoded here"),
    (OFFER.format(codec="VP8").replace("a=sendonly", "a=recvonly"), "sends no video"),
    (OFFER.format(codec="VP8").replace("a=fingerprint:sha-256 AB:CD\n", ""), "fingerprint"),
])
def test_sdp_check_reasons(text: str, reason: str) -> None:
    with pytest.raises(sdp.SdpError, match=reason):
        sdp.check_offer(text)


def test_sdp_bandwidth_goes_into_video_section_only() -> None:
    answer = "v=0\r\nm=audio 9 X 111\r\nc=IN IP4 0.0.0.0\r\nm=video 9 X 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000"
    out = sdp.with_bandwidth(answer, 2500)
    assert out.count("b=AS:2500") == 1 and out.index("b=AS") > out.index("m=video")
    assert sdp.negotiated(out) == {"video": "VP8"}


def test_token_env_name() -> None:
    assert token_env("phone-1") == "STREAM_OPS_PHONE_TOKEN_PHONE_1"


# --- publishing over loopback ----------------------------------------------------------
@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_whip_publisher_red_and_tone_reach_the_slot(codec: str) -> None:
    show = hub_show()
    slot = show.engine.slots["phone1"]
    assert slot.state == "idle"
    async with serve_hub(show) as (hub, base):
        assert slot.state == "connecting"   # waiting for a phone: the slate shows
        client = WhipClient(base, "phone1", hub.tokens["phone1"], codec=codec)
        assert await client.publish() == 201, client.error
        assert client.location and client.location.startswith("/whip/phone1/")
        await wait_for(lambda: is_color(slot_rgb(slot), RED))
        assert slot.state == "live"
        assert (slot.input_width, slot.input_height, slot.input_codec) == (640, 360, codec.lower())
        await wait_for(lambda: slot._audio_len > slot.sample_rate * 0.25)
        assert -18 < audio_rms_dbfs(slot) < -12   # a -12 dBFS sine has an RMS of -15 dBFS
        await wait_for(lambda: (hub.peers["phone1"].stats["bitrate_kbps"] or 0) > 0, timeout=5)
        assert slot.info()["bitrate_kbps"] > 0 and slot.info()["phone"]["codec"] == codec
        assert await client.delete() == 200
        await wait_for(lambda: slot.state == "connecting" and "phone1" not in hub.peers, timeout=2)
        await client.close()


async def test_wrong_and_revoked_token_are_refused() -> None:
    show = hub_show()
    async with serve_hub(show) as (hub, base):
        bad = WhipClient(base, "phone1", "not-the-token")
        assert await bad.publish() == 401
        old = hub.tokens["phone1"]
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.post("/api/sources/phone1/join/rotate", headers={"Authorization": f"Bearer {OPERATOR}"})
            assert r.status_code == 200 and r.json()["token"] != old
        assert await WhipClient(base, "phone1", old).publish() == 401
        good = WhipClient(base, "phone1", hub.tokens["phone1"])
        assert await good.publish() == 201
        await good.close()


async def test_rotate_kicks_the_phone_on_air() -> None:
    show = hub_show()
    slot = show.engine.slots["phone1"]
    async with serve_hub(show) as (hub, base):
        client = WhipClient(base, "phone1", hub.tokens["phone1"])
        assert await client.publish() == 201
        await wait_for(lambda: slot.latest_video() is not None)
        await hub.rotate("phone1", kick=True)
        await wait_for(lambda: slot.latest_video() is None, timeout=1.0)
        assert slot.state == "connecting"
        await client.close()


async def test_bad_requests_get_clear_4xx() -> None:
    show = hub_show()
    async with serve_hub(show) as (hub, base):
        token = hub.tokens["phone1"]
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.post("/whip/phone1", content="v=0\r\n", headers={**auth, "Content-Type": "application/sdp"})
            assert r.status_code == 400 and "m= section" in r.json()["error"]
            r = await http.post("/whip/phone1", content="garbage", headers={**auth, "Content-Type": "application/sdp"})
            assert r.status_code == 400 and "v=0" in r.json()["error"]
            r = await http.post("/whip/phone1", content="v=0", headers={**auth, "Content-Type": "text/plain"})
            assert r.status_code == 415
            r = await http.post("/whip/phone1", content=b"\xff" * 10, headers={**auth, "Content-Type": "application/sdp"})
            assert r.status_code == 400
            r = await http.post("/whip/phone1", content="x" * 70000, headers={**auth, "Content-Type": "application/sdp"})
            assert r.status_code == 413
            r = await http.post("/whip/nope", content="v=0", headers={**auth, "Content-Type": "application/sdp"})
            assert r.status_code == 404
            r = await http.post("/whip/phone1", content="v=0", headers={"Content-Type": "application/sdp"})
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
            r = await http.delete("/whip/phone1/nosuchsession", headers=auth)
            assert r.status_code == 404
            r = await http.patch("/whip/phone1/whatever", headers=auth)
            assert r.status_code == 405
            r = await http.options("/whip/phone1")
            assert r.status_code == 204 and "POST" in r.headers["access-control-allow-methods"]
            assert "Location" in r.headers["access-control-expose-headers"]
            # the operator API stays behind the operator token, never the slot token
            assert (await http.get("/api/sources/phone1/join", headers=auth)).status_code == 401
            op = {"Authorization": f"Bearer {OPERATOR}"}
            assert (await http.get("/api/sources/nope/join", headers=op)).status_code == 404
            r = await http.post("/api/sources/phone1/join/takeover", content="{", headers=op)
            assert r.status_code == 422
            r = await http.post("/api/sources/phone1/join/takeover", json={"allow": "yes"}, headers=op)
            assert r.status_code == 422
            r = await http.post("/api/sources/phone1/join/rotate", json={"kik": True}, headers=op)
            assert r.status_code == 422 and "unknown field" in r.json()["error"]


async def test_join_info_and_qr() -> None:
    show = hub_show()
    async with serve_hub(show) as (hub, base):
        op = {"Authorization": f"Bearer {OPERATOR}"}
        async with httpx.AsyncClient(base_url=base) as http:
            info = (await http.get("/api/sources/phone1/join", headers=op)).json()
            assert info["url"] == f"{base}/join/phone1#t={hub.tokens['phone1']}"
            assert info["whip_url"] == f"{base}/whip/phone1"
            assert info["qr_svg"].startswith("<svg") and info["warning"]   # loopback: phones cannot reach it
            png = await http.get("/api/sources/phone1/join.png", headers=op)
            assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
            page = await http.get("/join/phone1")
            assert page.status_code == 200 and hub.tokens["phone1"] not in page.text
            assert (await http.get("/join/nope")).status_code == 404
            phones = (await http.get("/api/phones", headers=op)).json()["phones"]
            assert [p["name"] for p in phones] == ["phone1"]


async def test_second_publisher_is_refused_unless_takeover_allowed() -> None:
    show = hub_show()
    slot = show.engine.slots["phone1"]
    async with serve_hub(show) as (hub, base):
        token = hub.tokens["phone1"]
        first = WhipClient(base, "phone1", token, color="#ff0000")
        assert await first.publish() == 201
        await wait_for(lambda: is_color(slot_rgb(slot), RED))
        second = WhipClient(base, "phone1", token, color="#0000ff")
        assert await second.publish() == 409 and "already has a phone" in (second.error or "")
        await asyncio.sleep(0.5)
        assert is_color(slot_rgb(slot), RED)   # never mixed up
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.post("/api/sources/phone1/join/takeover", json={"allow": True},
                                headers={"Authorization": f"Bearer {OPERATOR}"})
            assert r.json() == {"name": "phone1", "takeover": True}
        third = WhipClient(base, "phone1", token, color="#0000ff")
        assert await third.publish() == 201
        await wait_for(lambda: is_color(slot_rgb(slot), BLUE))
        await asyncio.sleep(0.5)
        assert is_color(slot_rgb(slot), BLUE)   # the old peer was closed, not mixed in
        assert len(hub.peers) == 1 and hub.peers["phone1"].session in (third.location or "")
        for c in (first, second, third):
            await c.close()


async def test_drop_shows_slate_within_a_second_and_rejoin_takes_the_place_back() -> None:
    show = hub_show()
    slot = show.engine.slots["phone1"]
    async with serve_hub(show) as (hub, base):
        token = hub.tokens["phone1"]
        first = WhipClient(base, "phone1", token, client="page-1")
        assert await first.publish() == 201
        await wait_for(lambda: is_color(slot_rgb(slot), RED))
        # Drop without a goodbye: the network goes away, nothing is sent.
        for sender in first.pc.getSenders():
            sender.replaceTrack(None)
        gone = await wait_for(lambda: slot.latest_video() is None, timeout=1.0)
        assert gone < 1.0
        # The same page comes back while the server still thinks the old peer is connected.
        back = WhipClient(base, "phone1", token, color="#00ff00", client="page-1")
        t = await wait_for_publish(back)
        await wait_for(lambda: is_color(slot_rgb(slot), GREEN))
        assert t < 5
        # A stranger's offer while the slot is live again: refused.
        stranger = WhipClient(base, "phone1", token, client="page-2")
        assert await stranger.publish() == 409
        for c in (first, back, stranger):
            await c.close()


async def test_quiet_peer_is_replaced_by_any_new_offer() -> None:
    """Roaming Wi-Fi -> 4G may come back as a new page (new client id): a silent old peer gives way."""
    show = hub_show()
    slot = show.engine.slots["phone1"]
    async with serve_hub(show) as (hub, base):
        token = hub.tokens["phone1"]
        first = WhipClient(base, "phone1", token, client="a", audio=False)
        assert await first.publish() == 201
        await wait_for(lambda: is_color(slot_rgb(slot), RED))
        for sender in first.pc.getSenders():
            sender.replaceTrack(None)
        await asyncio.sleep(2.5)   # > STALE_AFTER_S
        other = WhipClient(base, "phone1", token, color="#0000ff", client="b")
        assert await other.publish() == 201
        await wait_for(lambda: is_color(slot_rgb(slot), BLUE))
        await first.close()
        await other.close()


async def test_closed_client_frees_the_slot() -> None:
    show = hub_show()
    slot = show.engine.slots["phone1"]
    async with serve_hub(show) as (hub, base):
        client = WhipClient(base, "phone1", hub.tokens["phone1"])
        assert await client.publish() == 201
        await wait_for(lambda: slot.latest_video() is not None)
        await client.close()
        assert await wait_for(lambda: slot.latest_video() is None, timeout=1.0) < 1.0
        await wait_for(lambda: "phone1" not in hub.peers, timeout=5)
        again = WhipClient(base, "phone1", hub.tokens["phone1"], color="#0000ff")
        assert await again.publish() == 201
        await wait_for(lambda: is_color(slot_rgb(slot), BLUE))
        await again.close()


async def test_two_phones_in_two_slots() -> None:
    show = hub_show(("phone1", "phone2"))
    s1, s2 = show.engine.slots["phone1"], show.engine.slots["phone2"]
    async with serve_hub(show) as (hub, base):
        a = WhipClient(base, "phone1", hub.tokens["phone1"], color="#ff0000", codec="VP8")
        b = WhipClient(base, "phone2", hub.tokens["phone2"], color="#0000ff", codec="H264")
        assert await a.publish() == 201 and await b.publish() == 201
        await wait_for(lambda: is_color(slot_rgb(s1), RED) and is_color(slot_rgb(s2), BLUE))
        assert await WhipClient(base, "phone2", hub.tokens["phone1"]).publish() == 401   # tokens are per slot
        await a.close()
        await b.close()


async def test_audio_off_slot_stays_silent() -> None:
    show = hub_show()
    show.config.sources["phone1"] = show.config.sources["phone1"].__class__(name="phone1", kind="webrtc", audio=False)
    slot = show.engine.slots["phone1"]
    async with serve_hub(show) as (hub, base):
        client = WhipClient(base, "phone1", hub.tokens["phone1"])
        assert await client.publish() == 201
        await wait_for(lambda: is_color(slot_rgb(slot), RED))
        await asyncio.sleep(0.5)
        assert not slot.has_audio
        await client.close()


async def test_tally_follows_program_and_preview() -> None:
    show = hub_show(("phone1", "phone2"), program="cam", preview="all")
    async with serve_hub(show) as (hub, base):
        assert hub.tally("phone1") == "program" and hub.tally("phone2") == "preview"
        show.engine.program, show.engine.preview = "none", "cam"
        show.bus.publish("program", scene="none", previous="cam", transition="cut", duration_ms=0, actor="test")
        assert hub.tally("phone1") == "preview" and hub.tally("phone2") == "off"


async def wait_for_publish(client: WhipClient, timeout: float = 5.0) -> float:
    """Seconds from the offer to a 201 (retrying a 409 as the page does)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while await client.publish() != 201:
        if loop.time() - t0 > timeout:
            raise AssertionError(f"publish kept failing: {client.status} {client.error}")
        await asyncio.sleep(0.5)
    return loop.time() - t0


# --- a real browser ------------------------------------------------------------------------
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream"]


@pytest.mark.slow
async def test_chromium_join_page_goes_live_and_comes_back_after_a_drop() -> None:
    playwright = pytest.importorskip("playwright.async_api")
    show = hub_show()
    slot = show.engine.slots["phone1"]
    async with serve_hub(show) as (hub, base), playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            opened = asyncio.get_running_loop().time()
            await page.goto(f"{base}/join/phone1#t={hub.tokens['phone1']}")
            await wait_for(lambda: slot.latest_video() is not None, timeout=15)
            first_frame_s = asyncio.get_running_loop().time() - opened
            assert first_frame_s < 5, first_frame_s
            assert slot.state == "live" and slot.input_codec in ("h264", "vp8")
            await page.wait_for_function("document.body.dataset.tally === 'program'", timeout=5000)
            assert await page.inner_text("#tally") == "直播中"
            await page.wait_for_function("document.getElementById('rtt').textContent !== '–'", timeout=8000)
            await wait_for(lambda: slot.extra.get("rtt_ms") is not None, timeout=6)   # the page reports its RTT
            # Operator takes the slot off program: the phone sees it.
            show.engine.program = "none"
            show.bus.publish("program", scene="none", previous="cam", transition="cut", duration_ms=0, actor="test")
            await page.wait_for_function("document.body.dataset.tally === 'off'", timeout=3000)
            # Drop: the server loses the phone's connection; the page must come back by itself.
            old = hub.peers["phone1"]
            await old.close("test drop")
            dropped = asyncio.get_running_loop().time()

            def back() -> bool:
                peer = hub.peers.get("phone1")
                return peer is not None and peer is not old and peer.first_frame_at is not None

            await wait_for(back, timeout=10)
            back_s = asyncio.get_running_loop().time() - dropped
            assert back_s < 3, back_s
            assert slot.latest_video() is not None and slot.state == "live"
            print(f"\nchromium: page open -> first frame {first_frame_s:.2f} s; drop -> back {back_s:.2f} s")
            # A wrong token is refused on the page too.
            bad = await browser.new_page()
            await bad.goto(f"{base}/join/phone1#t=wrong")
            await bad.wait_for_function("document.body.dataset.state === 'stopped'", timeout=8000)
            assert "无效" in await bad.inner_text("#status") or "收回" in await bad.inner_text("#status")
        finally:
            await browser.close()


# --- through the real engine to an RTMP target --------------------------------------------------
PHONE_SHOW = """
show:
  name: phones-e2e
  video: {{width: 640, height: 360, fps: 30, bitrate_kbps: 800, keyframe_s: 1, preset: ultrafast}}
  audio: {{sample_rate: 44100, channels: 2, bitrate_kbps: 64}}
  start_scene: phone
sources:
  phone1: {{kind: webrtc, max_width: 1280, max_height: 720, max_bitrate_kbps: 2500, facing: environment, audio: true}}
  phone2: {{kind: webrtc}}
  blue: {{kind: color, color: "#0000ff"}}
scenes:
  phone:
    layers: [{{source: phone1}}]
  phone2:
    layers: [{{source: phone2}}]
  blue:
    layers: [{{source: blue}}]
outputs:
  platform: {{kind: rtmp, url: "rtmp://127.0.0.1:{port}/live", key: "k", autostart: true}}
"""


@pytest.mark.slow
async def test_phone_colour_reaches_the_rtmp_target(tmp_path) -> None:
    from peers import Receiver, ShowProcess, free_port, looks_like, wait_until

    port = free_port()
    receiver = Receiver(f"rtmp://127.0.0.1:{port}/live/k")
    env = {"STREAM_OPS_PHONE_TOKEN_PHONE1": "slot-secret-1", "STREAM_OPS_PHONE_TOKEN_PHONE2": "slot-secret-2"}
    show = await asyncio.to_thread(ShowProcess, tmp_path, PHONE_SHOW.format(port=port), env=env)
    base = f"http://127.0.0.1:{show.port}"
    clients: list[WhipClient] = []

    async def until(predicate, timeout: float, message: str) -> None:
        await asyncio.to_thread(wait_until, predicate, timeout, 0.05, message)

    try:
        await until(lambda: receiver.latest() is not None, 20, "program at the RTMP target")
        assert not receiver.sees("red")   # the slate until a phone joins
        assert show.source("phone1")["state"] == "connecting"
        phone = WhipClient(base, "phone1", "slot-secret-1", color="#ff0000", codec="H264")
        clients.append(phone)
        assert await phone.publish() == 201
        await until(lambda: receiver.sees("red"), 15, "the phone's red at the RTMP target")
        await until(lambda: show.source("phone1")["fps"] > 20, 5, "phone1 fps measured")
        info = show.source("phone1")
        assert info["state"] == "live" and (info["width"], info["height"]) == (640, 360) and info["codec"] == "h264"
        await until(lambda: (show.source("phone1").get("bitrate_kbps") or 0) > 0, 5, "phone1 bitrate")
        await until(lambda: show.state()["levels"]["sources"].get("phone1", {}).get("rms_db", -99) > -30, 5,
                    "the phone's tone in the mix")
        # A second phone in the second slot, then on program.
        other = WhipClient(base, "phone2", "slot-secret-2", color="#0000ff", codec="VP8")
        clients.append(other)
        assert await other.publish() == 201
        status, _ = show.request("POST", "/api/program", {"scene": "phone2"})
        assert status == 200
        await until(lambda: receiver.sees("blue"), 5, "phone2 on program")
        show.request("POST", "/api/program", {"scene": "phone"})
        await until(lambda: receiver.sees("red"), 5, "phone1 back on program")
        # Drop phone1: the slate within a second of receiver time; rejoin: red again.
        await phone.close()
        dropped = time.monotonic()
        await until(lambda: not receiver.sees("red"), 5, "phone1 gone from program")
        gone = next(t for t, c in receiver.frames if t > dropped and not looks_like(c, "red"))
        again = WhipClient(base, "phone1", "slot-secret-1", color="#ff0000")
        clients.append(again)
        assert await wait_for_publish(again) < 5
        await until(lambda: receiver.sees("red"), 10, "phone1 back after rejoining")
        log = show.log()
        assert "slot-secret" not in log and "slot-secret" not in str(show.state())
        print(f"\nRTMP target: slate {gone - dropped:.2f} s after the drop (includes encode + RTMP + decode)")
        assert gone - dropped < 2.0
    finally:
        for c in clients:
            await c.close()
        await asyncio.to_thread(show.stop)
        receiver.stop()


async def test_page_socket_gives_stun_turn_only_to_a_page_with_the_slot_token():
    import json as _json

    import websockets

    from stream_ops.config import IceServer, Secret

    show = hub_show()
    show.config.ice_servers = (IceServer(("turn:turn.example.cn:3478",), "live", Secret("turn-secret")),)
    async with serve_hub(show) as (hub, base):
        url = base.replace("http://", "ws://") + "/join/phone1/ws"
        async with websockets.connect(url) as ws:
            await ws.send(_json.dumps({"type": "hello", "token": "wrong", "client": "t"}))
            assert _json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "revoked"
        async with websockets.connect(url) as ws:
            await ws.send(_json.dumps({"type": "hello", "token": hub.tokens["phone1"], "client": "t"}))
            first = _json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert first == {"type": "config", "ice_servers": [
                {"urls": ["turn:turn.example.cn:3478"], "username": "live", "credential": "turn-secret"}]}
        async with httpx.AsyncClient() as client:
            page = (await client.get(base + "/join/phone1")).text
        assert "turn-secret" not in page and "turn.example.cn" not in page
