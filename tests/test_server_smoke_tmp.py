import json, sys
sys.path.insert(0, "/work/main/tests")
from hub_testing import *

async def test_smoke(jp_fetch, jp_ws_fetch, hub):
    r = await jp_fetch("realtime", "status")
    print(r.body)
    s = await create_session(jp_fetch, name="t1")
    print(s)
    ws = await HubWS.connect(jp_ws_fetch, s["id"], source="widget")
    print(ws.ready)
    done = await text_turn(ws, "Hello there", modalities=["text"])
    print(done["response"]["status"], done["x_seq"])
    print([e["type"] for e in ws.events])
    r = await get_json(jp_fetch, "realtime", "sessions", s["id"])
    print(json.dumps(r["state"]["items"])[:500])
    r = await get_json(jp_fetch, "realtime", "sessions", s["id"], "events", limit="5", type="response.*")
    print(json.dumps(r)[:800])
    await ws.close()
