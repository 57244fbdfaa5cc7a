"""Time: the injectable clock, the statutory working-day calendar, local periods, one task's timeline. Pure, no database."""
