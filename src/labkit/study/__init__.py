"""Studies: what a lab does with many runs, above both the engine, which runs them, and
the analysis, which judges them: batches driven by what the analysis has decided so far
(``until_decided``) and hand-run logs brought into the store (``importer``)."""
