"""Who is acting and what they may do: accounts, sign-in sessions, actors and every permission rule."""
