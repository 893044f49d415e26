"""Run records: the typed model (``model``), the run store on disk (``store``) and its
backends (``backends``, ``s3``), and each run's stored metrics (``metrics_cache``). Below
the plug-ins and the analysis: it imports neither."""
