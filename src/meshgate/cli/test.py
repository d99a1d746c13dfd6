"""`meshgate test FILE... [-c PATH]... [--junit-xml OUT] [-k SUBSTRING] [-v] [--offline] [--jwks URI=FILE]...`

Exit 0: every selected case passed; 1: a case failed; 2: a bad test file, config, key set or usage
(each problem as `file:line: message`; no case is decided then), or no case selected.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TextIO

from meshgate.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError
from meshgate.policytest.junit import junit_xml
from meshgate.policytest.load import load_test_file
from meshgate.policytest.model import PolicyTestFile
from meshgate.policytest.report import format_results
from meshgate.policytest.run import RunOptions, decide, prepare_all, select

HELP = "run policy unit tests (cases decided offline); exit 0 when all pass"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="test files (YAML)")
    p.add_argument("-c", "--config", action="append", default=[], metavar="PATH",
                   help="more policy files/directories, added to each file's `config:`")  # fmt: skip
    p.add_argument("--junit-xml", metavar="OUT", help="write a JUnit XML report for CI")
    p.add_argument("-k", dest="keyword", default="", metavar="SUBSTRING", help="run cases whose name has it")
    p.add_argument("-v", "--verbose", action="store_true", help="a line per case, passed ones too")
    p.add_argument("--offline", action="store_true", help="never fetch a jwksUri; map each to a file")
    p.add_argument("--jwks", action="append", default=[], metavar="URI=FILE",
                   help="use FILE's key set for jwksUri URI (repeatable; wins over a file's `jwks:`)")  # fmt: skip


def parse_jwks_flags(items: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        uri, sep, path = item.rpartition("=")
        if not sep or not uri or not path:
            raise UsageError(f"--jwks: expected URI=FILE, got {item!r}")
        if not os.path.isfile(path):
            raise UsageError(f"--jwks: no such file {path}")
        mapping[uri] = path
    return mapping


def run(args: argparse.Namespace) -> int:
    return run_test(args, sys.stdout, sys.stderr)


def run_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    started = time.time()
    opts = RunOptions(tuple(args.config), parse_jwks_flags(args.jwks), args.offline, args.keyword)
    files: list[PolicyTestFile] = []
    problems: list[str] = []
    for path in args.files:
        loaded, found = load_test_file(path)
        problems += [str(p) for p in found]
        if loaded is not None:
            files.append(loaded)
    if not problems:
        prepared, problems = prepare_all(files, opts, started)
    if problems:
        err.write("".join(f"{p}\n" for p in problems))
        err.write(f"meshgate test: {len(problems)} problem{'s' if len(problems) != 1 else ''}, no case run\n")
        return EXIT_USAGE
    total = sum(len(f.cases) for f in files)
    if not prepared:
        err.write(f"meshgate test: -k {args.keyword!r} selected none of {total} cases\n")
        return EXIT_USAGE
    results = [decide(p, started) for p in prepared]
    out.write(format_results(results, total - len(select(files, opts.keyword)), args.verbose))
    if args.junit_xml:
        with open(args.junit_xml, "wb") as fh:
            fh.write(junit_xml(results, started))
    return EXIT_OK if all(r.passed for r in results) else EXIT_FAILED
