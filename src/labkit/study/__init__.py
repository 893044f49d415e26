"""Studies: batches driven by what the analysis has decided so far (above both the engine,
which runs them, and the analysis, which judges them)."""
