"""The emulator's own Chorus Pro wire models, with the real (French) field names."""
