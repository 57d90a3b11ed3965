"""`cbs-export`: check files, strip notebooks, look at the basket and prepare the export from a terminal.

Every user mistake ends in one plain message on stderr and exit code 2; never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .errors import UserError


def _cmd_check(args: argparse.Namespace) -> int:
    raise UserError("'cbs-export check' is not available yet.")


def _cmd_strip(args: argparse.Namespace) -> int:
    raise UserError("'cbs-export strip' is not available yet.")


def _cmd_basket(args: argparse.Namespace) -> int:
    raise UserError("'cbs-export basket' is not available yet.")


def _cmd_prepare(args: argparse.Namespace) -> int:
    raise UserError("'cbs-export prepare' is not available yet.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cbs-export", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="check a table file (csv, xlsx, parquet) for disclosure risk")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("strip", help="strip outputs and data from notebooks before exporting syntax")
    p.set_defaults(func=_cmd_strip)

    p = sub.add_parser("basket", help="list the export basket")
    p.set_defaults(func=_cmd_basket)

    p = sub.add_parser("prepare", help="write the basket into the exportmap as CBS asks")
    p.set_defaults(func=_cmd_prepare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"cbs-export: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
