"""Run records: the typed model (``model``), the run store on disk (``store``) and the
import of hand-run logs (``importer``)."""
