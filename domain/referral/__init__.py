"""Cross-level referral (转办/下派): a ticket travelling down the centres and its reply back up."""
