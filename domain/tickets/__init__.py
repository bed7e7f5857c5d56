"""Tickets: intake, dispatch, assignments, replies, callbacks (regulation §3, §4)."""
