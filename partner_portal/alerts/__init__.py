"""Alerts and incidents mirrored from Defender, the sync that keeps them fresh, and the
analysts' console."""
