"""Third-party realtime clients, exactly as their authors ship them, driven through the
same scenarios against any realtime server (the engine's ``realtime-widget serve``, a
hub session).

* ``endpoint``: ``Endpoint`` (where a client connects) and the route names.
* ``expect``: the scenario inputs and the checks of what a client's user must see.
* one driver module per client (``python_rtclient``, ``node_rt_client``, ``openai_sdk``,
  ``openai_agents``): ``NAME``, ``ROUTES`` (routes it can use) and ``SCENARIOS``
  (scenario name -> ``async (endpoint, route) -> expect.Seen``; each scenario asserts
  what its user saw and returns it for further checks).
* ``thirdparty``: where the clients are found (skip locally, fail on CI when missing).
"""
