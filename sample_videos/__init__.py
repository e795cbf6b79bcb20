"""Sample bank-counter scenes that TellerWatch renders itself (see sample_videos/README.md)."""
