"""The store: what pixseek keeps in its databases (the catalog of library files, the
library's model state, users, tokens and sessions) and the data directory's lock."""
