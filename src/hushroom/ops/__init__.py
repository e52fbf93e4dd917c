"""Operator tasks that work on a whole installation: encrypted backups and their restore.

backup.py and restore.py orchestrate; archive.py is the file format, age.py the encryption,
sqlite_dump.py and pg_dump.py the database-specific halves.
"""
