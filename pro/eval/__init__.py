"""Policy evaluation: win rates by a judge, per-objective rewards, length statistics and the HTML report."""
