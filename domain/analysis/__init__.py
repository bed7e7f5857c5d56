"""Problem analysis (§3(10)): hotspots, repeat complaints, the leader cockpit."""
