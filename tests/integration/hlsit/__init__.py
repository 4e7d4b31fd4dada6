"""hlsfs integration test helpers (standard library only)."""
