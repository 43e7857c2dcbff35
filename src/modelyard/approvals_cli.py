"""`modelyard models request|approve|reject|cancel|requests|comment|approval`.

The promotion-request commands, kept out of `client_cli.py` (which adds them to
the `models` group with one call). Each parses, calls one `Client` method and
prints, like every client command.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from modelyard.cli_output import emit, table, when
from modelyard.cli_parser import stage_arg, version_arg

if TYPE_CHECKING:
    from modelyard.cli_parser import Command, CommandTree, SubParsers
    from modelyard.client import Client


def cmd_request(c: Client, args: argparse.Namespace) -> None:
    r = c.request_transition(args.name, args.version, args.to, args.comment)
    emit(
        args,
        r,
        lambda: (
            f"{r.name} version {r.version}: requested {r.from_stage} -> {r.to_stage} "
            f"(request {r.request_id}, by {r.user_id})"
        ),
    )


def cmd_approve(c: Client, args: argparse.Namespace) -> None:
    d = c.approve_transition_request(args.name, args.version, args.to, args.comment)
    emit(
        args,
        d,
        lambda: (
            f"{args.name} version {args.version}: approved by {d.request.decided_by}; "
            f"now in {d.request.to_stage}"
        ),
    )


def cmd_reject(c: Client, args: argparse.Namespace) -> None:
    d = c.reject_transition_request(args.name, args.version, args.to, args.comment)
    emit(
        args,
        d,
        lambda: (
            f"{args.name} version {args.version}: request to {d.request.to_stage} "
            f"rejected by {d.request.decided_by}"
        ),
    )


def cmd_cancel(c: Client, args: argparse.Namespace) -> None:
    d = c.cancel_transition_request(args.name, args.version, args.to, comment=args.comment)
    emit(
        args,
        d,
        lambda: f"{args.name} version {args.version}: request to {d.request.to_stage} cancelled",
    )


def cmd_requests(c: Client, args: argparse.Namespace) -> None:
    statuses = tuple(args.status or ["open"])
    found = c.search_transition_requests(args.model, statuses=statuses)
    emit(
        args,
        found,
        lambda: table(
            ["ID", "MODEL", "VERSION", "FROM", "TO", "BY", "WHEN", "STATUS", "COMMENT"],
            [
                (
                    r.request_id,
                    r.name,
                    r.version,
                    r.from_stage,
                    r.to_stage,
                    r.user_id,
                    when(r.creation_timestamp),
                    r.status,
                    r.comment,
                )
                for r in found
            ],
        ),
    )


def cmd_comment(c: Client, args: argparse.Namespace) -> None:
    made = c.create_comment(args.name, args.version, args.text)
    emit(args, made, lambda: f"{args.name} version {args.version}: comment {made.comment_id} added")


def cmd_approval(c: Client, args: argparse.Namespace) -> None:
    required: bool | None = {"required": True, "exempt": False, "default": None}.get(args.set or "")
    rules = (
        c.set_approval_policy(args.name, args.stage, required)
        if args.set
        else c.get_approval_policy(args.name)
    )
    emit(
        args,
        rules,
        lambda: table(
            ["STAGE", "APPROVAL", "SET BY"],
            [(r.stage, "required" if r.required else "not required", r.source) for r in rules],
        ),
    )


def add_approval_commands(g: SubParsers, tree: CommandTree) -> None:
    """Add the promotion-request commands to the `models` group."""
    name_help = "registered model name, e.g. mnist_test"
    version_help = "version number, from 1"

    def move(
        fn: Command, name: str, helptext: str, example: str, comment_help: str
    ) -> argparse.ArgumentParser:
        p = tree.command(g, name, fn, helptext, example=example)
        p.add_argument("name", metavar="NAME", help=name_help)
        p.add_argument("version", metavar="VERSION", type=version_arg, help=version_help)
        p.add_argument(
            "--to", required=True, type=stage_arg, metavar="STAGE", help="the requested stage"
        )
        p.add_argument("--comment", help=comment_help)
        return p

    move(
        cmd_request,
        "request",
        "Ask for a version to be moved to a stage; someone with the stage right approves.",
        "modelyard models request mnist_test 3 --to Production --comment 'acc 0.98'",
        "why (shown to the approvers and kept in the history)",
    )
    move(
        cmd_approve,
        "approve",
        "Approve the open request, which moves the version (the stage's previous holder "
        "is archived).",
        "modelyard models approve mnist_test 3 --to Production",
        "kept in the history",
    )
    move(
        cmd_reject,
        "reject",
        "Reject the open request.",
        "modelyard models reject mnist_test 3 --to Production --comment 'latency regression'",
        "why (kept in the history)",
    )
    move(
        cmd_cancel,
        "cancel",
        "Cancel your own open request.",
        "modelyard models cancel mnist_test 3 --to Production",
        "kept in the history",
    )
    p = tree.command(
        g,
        "requests",
        cmd_requests,
        "List transition requests (open ones by default).",
        example="modelyard models requests --model mnist_test",
    )
    p.add_argument("--model", metavar="NAME", help="only this registered model")
    p.add_argument(
        "--status",
        action="append",
        choices=("open", "approved", "rejected", "cancelled", "void"),
        help="repeatable; default: open",
    )
    p = tree.command(
        g,
        "comment",
        cmd_comment,
        "Comment on a version.",
        example="modelyard models comment mnist_test 3 'AUC 0.91 on the holdout'",
    )
    p.add_argument("name", metavar="NAME", help=name_help)
    p.add_argument("version", metavar="VERSION", type=version_arg, help=version_help)
    p.add_argument("text", metavar="TEXT", help="the comment")
    p = tree.command(
        g,
        "approval",
        cmd_approval,
        "Show or set which stages of a model need an approved request.",
        example="modelyard models approval mnist_test --stage Production --set required",
    )
    p.add_argument("name", metavar="NAME", help=name_help)
    p.add_argument("--stage", type=stage_arg, default="Production", metavar="STAGE")
    p.add_argument(
        "--set",
        choices=("required", "exempt", "default"),
        help="required / exempt for this model, or default (the server's --require-approval)",
    )
