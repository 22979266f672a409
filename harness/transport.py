"""How a case's data travels from the process that ran it to the one that records it.

Rows, the pipeline's fingerprint and the device it ran on ride in ``TestReport.user_properties``
under these keys (xdist ships a worker's reports to the controller, which alone writes the
store). A module of its own, free of heavy imports, because the plugin reads the keys in every
pytest session, leakage or not.
"""

from __future__ import annotations

__all__ = ["CASE_KEY", "ROW_KEY", "FINGERPRINT_KEY", "MACHINE_KEY", "LOAD_ERROR_KEY", "NOTE_KEY", "REFUSED_KEY",
           "ORIGIN_KEY", "TRANSPORT_KEYS"]

CASE_KEY = "leakage_case"
ROW_KEY = "leakage_row"
FINGERPRINT_KEY = "leakage_fingerprint"
LOAD_ERROR_KEY = "leakage_load_error"  # why the pipeline did not load, on the case that tried
MACHINE_KEY = "leakage_machine"  # the GPU and CUDA the pipeline ran on, known only where it ran
NOTE_KEY = "leakage_note"  # a line for the terminal from where the case ran (a halved batch)
REFUSED_KEY = "leakage_refused"  # why a resumed run may not be continued here: nothing is recorded
ORIGIN_KEY = "leakage_origin"  # "computed" or "copied" (from the store or an identical case)
TRANSPORT_KEYS = (CASE_KEY, ROW_KEY, FINGERPRINT_KEY, MACHINE_KEY, LOAD_ERROR_KEY, NOTE_KEY, REFUSED_KEY, ORIGIN_KEY)
