"""Settings › People pages: users, teams, seats, skills (one module each)."""
