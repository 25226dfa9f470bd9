"""The names of the tasks the workers run, defined once: workers register them under these
names and the web app and the CLI send them by name (neither imports the tasks)."""

SCAN = "pixseek.scan"
INGEST = "pixseek.ingest"
REINDEX = "pixseek.reindex"
SWITCH = "pixseek.model_switch"
RETIRE = "pixseek.model_retire"
BACKUP = "pixseek.backup"
EVAL = "pixseek.eval"
OCR = "pixseek.ocr"
