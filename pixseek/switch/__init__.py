"""The model switch: a job that gives every photo the new model's vector (the backfill),
cuts searches over and drops the old vectors, without a search outage; and the OCR job, a
backfill of the text read in photos indexed before PIXSEEK_OCR=on (ocrfill.py)."""
