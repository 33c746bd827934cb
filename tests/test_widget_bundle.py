"""The committed front-end bundle (``realtime_widget/static/widget.{js,css}``) is what
``js/`` builds: a fresh ``npm ci`` + build in a temporary copy must give the same bytes.
Also: the JS codecs and resampler (run by node) against the Python implementations."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "js"
STATIC = ROOT / "realtime_widget" / "static"

pytestmark = pytest.mark.timeout(300)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the committed bundle is used as is)")
    return node


def test_the_bundle_is_committed_and_wired():
    from realtime_widget.widget import RealtimeWidget

    js = (STATIC / "widget.js").read_text()
    assert str(RealtimeWidget._esm) == js
    assert str(RealtimeWidget._css) == (STATIC / "widget.css").read_text()
    assert 'registerProcessor("rtw-capture"' in js and 'registerProcessor("rtw-playback"' in js
    assert "export {" in js and "render(" in js
    lock = json.loads((JS / "package-lock.json").read_text())
    pkg = json.loads((JS / "package.json").read_text())
    for name, version in pkg["devDependencies"].items():
        assert version[0].isdigit(), f"{name}: pin an exact version, not {version!r}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_a_fresh_build_of_js_matches_the_committed_bundle(tmp_path):
    node = _node()
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    work = tmp_path / "js"
    work.mkdir()
    for name in ("package.json", "package-lock.json", "build.mjs"):
        shutil.copy(JS / name, work / name)
    shutil.copytree(JS / "src", work / "src")
    r = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if r.returncode != 0:
        pytest.fail(f"npm ci failed:\n{r.stdout}\n{r.stderr}")
    out = tmp_path / "out"
    r = subprocess.run(
        [node, "build.mjs", "--outdir", str(out)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    for name in ("widget.js", "widget.css"):
        fresh = (out / name).read_bytes()
        committed = (STATIC / name).read_bytes()
        assert fresh == committed, (
            f"realtime_widget/static/{name} is stale: run `cd js && npm ci && npm run build`"
        )


def _run_node(script: str) -> dict:
    node = _node()
    r = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_js_g711_matches_python():
    from realtime_widget import audio

    x = np.arange(-32768, 32768, 7, dtype=np.int16)
    script = """
    import {
      ulawEncodeSample, alawEncodeSample, ulawDecodeSample, alawDecodeSample,
    } from "./src/codec.js";
    const xs = []; for (let v = -32768; v < 32768; v += 7) xs.push(v);
    const codes = [...Array(256).keys()];
    console.log(JSON.stringify({ ulaw: xs.map(ulawEncodeSample), alaw: xs.map(alawEncodeSample),
      ulawDec: codes.map(ulawDecodeSample), alawDec: codes.map(alawDecodeSample) }));
    """
    out = _run_node(script)
    assert bytes(out["ulaw"]) == audio.ulaw_encode(x.tobytes())
    assert bytes(out["alaw"]) == audio.alaw_encode(x.tobytes())
    codes = bytes(range(256))
    assert out["ulawDec"] == np.frombuffer(audio.ulaw_decode(codes), "<i2").tolist()
    assert out["alawDec"] == np.frombuffer(audio.alaw_decode(codes), "<i2").tolist()


@pytest.mark.parametrize(
    "in_rate,out_rate",
    [(48000, 24000), (44100, 24000), (48000, 8000), (24000, 44100), (24000, 48000)],
)
def test_js_resampler_keeps_speech_band_and_rejects_aliases(in_rate, out_rate):
    """A 1 kHz tone passes at its level; a tone above the output's Nyquist frequency
    is attenuated (no aliasing); streaming in 128-sample blocks (one render quantum)
    gives the right number of samples."""
    nyq = min(in_rate, out_rate) / 2
    alias_hz = nyq * 1.25 if in_rate > out_rate else None
    script = f"""
    import {{ Resampler }} from "./src/worklets/resampler.js";
    function run(freq) {{
      const rs = new Resampler({in_rate}, {out_rate});
      const n = {in_rate};  // one second
      const out = [];
      for (let i = 0; i < n; i += 128) {{
        const block = new Float32Array(Math.min(128, n - i));
        for (let k = 0; k < block.length; k++)
          block[k] = 0.5 * Math.sin(2 * Math.PI * freq * (i + k) / {in_rate});
        out.push(...rs.process(block));
      }}
      return out;
    }}
    const speech = run(1000);
    const alias = {alias_hz if alias_hz else "null"} ? run({alias_hz or 0}) : [];
    console.log(JSON.stringify({{ speech, alias }}));
    """
    out = _run_node(script)
    y = np.asarray(out["speech"])
    assert abs(len(y) - out_rate) <= 64  # the kernel's half width is still in flight
    mid = y[len(y) // 4 : 3 * len(y) // 4]
    rms = float(np.sqrt(np.mean(mid**2)))
    assert abs(rms - 0.5 / np.sqrt(2)) < 0.01
    # the tone is where it should be (no pitch shift): zero crossings per second
    crossings = np.count_nonzero(np.diff(np.signbit(mid))) / (len(mid) / out_rate)
    assert abs(crossings - 2000) < 10
    if alias_hz:
        a = np.asarray(out["alias"])
        a_rms = float(np.sqrt(np.mean(a[len(a) // 4 : 3 * len(a) // 4] ** 2)))
        assert a_rms < 0.5 / np.sqrt(2) * 0.03  # below -30 dB
