"""Assessment (考核) and ledgers (台账): scoring schemes, scores with their breakdown, figures rolled up the tree."""
