"""Supervision cases (督办, §5) and joint / special meetings (联席会议, 专项会议, §5(3)4–5)."""
