"""Monthly assessment (§6), notices and accountability referrals (§7)."""
