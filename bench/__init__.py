"""``make bench``: healthhub's ingestion under load, next to a bare baseline.

Run ``python -m bench --help``. Everything runs on this machine and targets
127.0.0.1 only; every process the bench starts is stopped when it ends, also
on Ctrl-C or failure. Performance targets live here, in the report, and never
in the unit tests.
"""
