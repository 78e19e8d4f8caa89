"""The demo: the whole system on the local AWS emulator, through the production Lambda handler.

``python -m cw_local.demo`` (``make demo``, `cw_local.demo.__main__`). One module per job:
`plan` (hours, incident, events), `run` (orchestration), `readback` (what the pipeline stored and sent),
`report` (the text report) and `chart` (``.demo/chart.png``).
"""
