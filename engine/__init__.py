"""duban's domain: the definition language, the calendar, the org tree, tasks and their follow-up."""
