"""Business rules. Services never touch request/session/current_user; the acting user comes in as `actor`."""
