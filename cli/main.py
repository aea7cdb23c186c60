"""The `surge` command: a thin front door over library functions.

Subcommands live in `surge.cli.commands.<name>` modules, each with `HELP`,
`add_arguments(parser)` and `run(args) -> int`; `COMMANDS` below is the one
place they are registered. Modules keep heavy imports inside `run` so that
`surge --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from surge import __version__
from surge.cli.crash import crash_if_asked, report_crash
from surge.errors import ExitCode, SurgeError

#: subcommand name -> module implementing it, in the order `surge --help` lists them
COMMANDS: dict[str, str] = {
    "init": "surge.cli.commands.init",
    "schedule": "surge.cli.commands.schedule",
    "shop": "surge.cli.commands.shop",
    "fetch": "surge.cli.commands.fetch",
    "abort": "surge.cli.commands.abort",
    "run": "surge.cli.commands.run",
    "demo": "surge.cli.commands.demo",
    "agent": "surge.cli.commands.agent",
    "report": "surge.cli.commands.report",
    "cost": "surge.cli.commands.cost",
    "calibrate": "surge.cli.commands.calibrate",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="surge",
        description="Open-model, distributed load testing for web-shop APIs, on Locust.",
        epilog="Exit codes: 0 passed, 1 thresholds failed, 2 bad input, "
        "3 results untrustworthy, 4 infrastructure error, 5 internal error (a crash: "
        "the traceback's file is named), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"surge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        crash_if_asked(args.command)
        return int(args._run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except SurgeError as exc:
        report_error(exc)
        return exc.exit_code
    except BrokenPipeError:  # `surge cost ... | head`: the reader left; not a crash
        stop_writing_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug, not a user mistake: exit 5 (never 0 or 1), one line
        return report_crash(exc, argv)


EXIT_BROKEN_PIPE = 141  # what a shell reports for a tool ended by SIGPIPE (128 + 13)


def stop_writing_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def report_error(exc: SurgeError) -> None:
    """Print a user-facing error: ``error: <what> (<where>)``, one line per problem."""
    problems = getattr(exc, "problems", None)  # ScheduleError, SettingsError: all at once
    if problems and len(problems) > 1:
        print(f"error: {exc.what} ({exc.where})", file=sys.stderr)
        for problem in problems:
            print(f"  {exc.where}: {problem}", file=sys.stderr)
    else:
        print(f"error: {exc}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
