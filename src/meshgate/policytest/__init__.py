"""`meshgate test`: unit tests for Istio policies, decided offline by the engine that serves them.

load.py reads test files (every problem at `file:line`), mint.py mints a case's token, keys.py resolves the
key sets (files, `--offline`), run.py decides each case and compares, report.py and junit.py print the
outcome; cli/test.py is the command.
"""
