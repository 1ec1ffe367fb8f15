"""Use cases behind the Chorus endpoints: each takes the emulator, the caller and a wire body."""
