"""The `/_emulator` control API: ground truth, buyer actions, faults, directory, reset, clock."""
