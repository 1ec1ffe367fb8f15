"""The Chorus Pro and PISTE endpoints: thin routers over `app.emulator.services`."""
