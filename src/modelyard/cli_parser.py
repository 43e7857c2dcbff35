"""Building the client half of the `modelyard` parser: command groups, one way.

Every client command group (experiments, runs, models, artifacts in
`client_cli`; users, tokens, permissions in `auth_cli`; webhooks in
`webhooks_cli`; promotion requests in `approvals_cli`) is declared through one
`CommandTree`, so each command gets the same things without anyone having to
remember them: `--tracking-uri`/`--json` after the command as well as before
it, a one-line description, an example and the exit codes in `--help`, and
`run_command`'s translation of failures into a message and an exit code.
Standard library only until a command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import TypeAlias

    from modelyard.client import Client

    SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
    Command: TypeAlias = Callable[[Client, argparse.Namespace], Any]

EXIT_OK = 0
EXIT_SERVER_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

EXIT_CODES = """exit codes:
  0  success
  1  the server refused the request (its message is printed), or a local file error
  2  usage error (bad arguments, malformed model URI, missing local file)
  3  the tracking server could not be reached"""

STAGES = ("None", "Staging", "Production", "Archived")


class UsageError(Exception):
    """A command found its arguments unusable after parsing (exit status 2)."""


# -- argument types --------------------------------------------------------------
def stage_arg(value: str) -> str:
    for stage in STAGES:
        if value.lower() == stage.lower():
            return stage
    raise argparse.ArgumentTypeError(
        f"invalid stage {value!r} (choose from {', '.join(STAGES)}; any case)"
    )


def version_arg(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"invalid version {value!r} (a number from 1)")
    return int(value)


def positive_int(maximum: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to `maximum` (else a usage error, exit 2)."""

    def parse(value: str) -> int:
        if not value.strip().isdigit() or not 1 <= int(value) <= maximum:
            raise argparse.ArgumentTypeError(
                f"invalid value {value!r} (a whole number from 1 to {maximum:,})"
            )
        return int(value)

    return parse


# -- running a command -------------------------------------------------------------
def run_command(command: Command, args: argparse.Namespace) -> int:
    """Run one command with a client; turn failures into a message and an exit code."""
    from modelyard.client import Client, InvalidArgument, ServerUnreachable
    from modelyard.errors import ModelyardError

    try:
        with Client(args.tracking_uri) as client:
            command(client, args)
        return EXIT_OK
    except ServerUnreachable as exc:
        print(f"modelyard: {exc.message}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (InvalidArgument, UsageError) as exc:
        print(f"modelyard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ModelyardError as exc:
        print(f"modelyard: {exc.message} [{exc.code}]", file=sys.stderr)
        return EXIT_SERVER_ERROR
    except OSError as exc:
        print(f"modelyard: {exc}", file=sys.stderr)
        return EXIT_SERVER_ERROR
    except KeyboardInterrupt:
        print("modelyard: interrupted", file=sys.stderr)
        return 130


# -- declaring commands --------------------------------------------------------------
def add_common_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """--tracking-uri and --json, accepted before the command (`modelyard --tracking-uri U
    runs list`) and after it. After the command they default to SUPPRESS, so a value given
    before the command is not overwritten by the subcommand's default."""
    parser.add_argument(
        "--tracking-uri",
        metavar="URL",
        default=None if top_level else argparse.SUPPRESS,
        help="tracking server [MODELYARD_TRACKING_URI, MLFLOW_TRACKING_URI; "
        "default http://127.0.0.1:5000]",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top_level else argparse.SUPPRESS,
        help="print JSON instead of a table",
    )


class CommandTree:
    """Adds command groups (`modelyard models …`) and their commands to the parser."""

    def __init__(self, sub: SubParsers) -> None:
        self.sub = sub
        self.common = argparse.ArgumentParser(add_help=False)
        add_common_options(self.common, top_level=False)
        self.transfer = argparse.ArgumentParser(add_help=False)
        self.transfer.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="show a progress bar on stderr (default: when stderr is a terminal)",
        )

    def group(self, name: str, helptext: str) -> SubParsers:
        p = self.sub.add_parser(
            name,
            help=helptext,
            description=helptext,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return p.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")

    def command(
        self,
        parent: SubParsers,
        name: str,
        fn: Command,
        helptext: str,
        *,
        example: str,
        transfers: bool = False,
    ) -> argparse.ArgumentParser:
        """One command: `fn(client, args)` runs it; `example` is shown in its --help."""
        p = parent.add_parser(
            name,
            help=helptext,
            description=helptext,
            epilog=f"example:\n  {example}\n\n{EXIT_CODES}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[self.common, self.transfer] if transfers else [self.common],
        )
        p.set_defaults(func=lambda args: run_command(fn, args))
        return p
