"""The Chorus Pro emulator: a stateful stand-in for Chorus Pro behind PISTE, as its own ASGI app.

It owns its wire models (the French Chorus field names), its state, the business rules Chorus
applies on `soumettre`, the invoice lifecycle, fault injection and the `/_emulator` control API.
It shares no schema code with the gateway's Chorus client, so a wrong field name on one side
shows up as a failing call instead of passing silently on both. Build it with
`app.emulator.main.create_emulator_app`.

Laid out like the gateway: one package per Chorus API area (`factures`, `flux`, `structures`,
`transverses`, `oauth`, `control`), each with its `router`, `schemas` and `service`.
"""
