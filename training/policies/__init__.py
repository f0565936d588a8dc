"""Next-best-action policies: learned from the logged campaigns, judged against the log and the simulator."""
