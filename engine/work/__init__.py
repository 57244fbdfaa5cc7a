"""The work itself: stored definitions, assignment and fan-out, a task's life, evidence, files and targets."""
