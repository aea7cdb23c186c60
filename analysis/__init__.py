"""pandas reports from a run directory: timelines, stages, the knee, verdict, cost."""
