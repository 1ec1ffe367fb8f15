"""`gateway qualify`: settle, on the user's own PISTE access, what chorus-pro.md could only guess.

`scenario` runs the short scripted session against the target and records what Chorus did
(`observations`); `facts` compares that with what the gateway assumes (pure); `report` prints
the table and writes the JSON; `envfile` writes the settings that differ into a `.env`;
`runner` ties them to the configured credentials and a registered supplier structure.
"""
