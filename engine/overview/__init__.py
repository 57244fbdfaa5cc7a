"""Reading what is there: task lists, roll-up reports and the lookups the UI and the API show."""
