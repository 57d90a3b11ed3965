"""`cbs-export`: check files, strip notebooks, look at the basket and prepare the export from a terminal.

Every user mistake ends in one plain message on stderr and exit code 2; never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from .errors import UserError
from .settings import MODES


CHECK_EXIT = {"pass": 0, "fail": 1, "review": 3}
TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")


def _read_table_file(path: Path, sheet: str | None) -> Any:
    """A csv, xlsx or parquet file as a plain table; leading text columns become the row labels."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise UserError(f"{path}: 'check' reads {', '.join(TABLE_SUFFIXES)} files, not {suffix or 'files without a suffix'}. "
                        "Save the table in one of those formats, or add the object itself in Python with cel.check.")
    if not path.is_file():
        raise UserError(f"{path} does not exist. Give the path of the table file to check.")
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, sep=None, engine="python")
        elif suffix == ".xlsx":
            frame = pd.read_excel(path, sheet_name=sheet or 0)
        else:
            frame = pd.read_parquet(path)
    except (ValueError, OSError, ImportError) as exc:
        raise UserError(f"{path} cannot be read as a table: {exc}. Check that it is a valid {suffix[1:]} file.") from None
    labels = []
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]) or len(labels) == frame.shape[1] - 1:
            break
        labels.append(name)
    return frame.set_index(labels) if labels else frame


def _cmd_check(args: argparse.Namespace) -> int:
    from .check import check

    result = check(_read_table_file(Path(args.file), args.sheet))
    print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1, default=str) if args.json else result.report())
    return CHECK_EXIT[result.status]


def _cmd_strip(args: argparse.Namespace) -> int:
    raise UserError("'cbs-export strip' is not available yet.")


def _cmd_basket(args: argparse.Namespace) -> int:
    from .basket import Basket

    basket = Basket(args.basket)
    items = basket.items
    if args.json:
        print(json.dumps({"basket": str(basket.folder), "items": [i.to_dict() for i in items]},
                         ensure_ascii=False, indent=1, default=str))
        return 0
    print(f"Basket {basket.folder}: {len(items)} item(s).")
    for item in items:
        role = f"background for {item.background_for}" if item.background else item.kind
        explained = "explained" if item.has_explanation else "no explanation"
        exported = ", ".join(f"{e.get('folder', '')}/{e.get('zip', '')}" for e in item.exported) or "not exported"
        print(f"- {item.id} [{item.status}] {item.title} ({role}; {explained}; {exported})")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .basket import Basket
    from .exportmap import plan_export, prepare_export

    basket = Basket(args.basket)
    options = dict(mode=args.mode, project=args.project, include_exported=args.include_exported)
    plan = plan_export(basket, args.exportmap, **options)
    if args.dry_run:
        print(json.dumps(plan.to_dict(), ensure_ascii=False, indent=1) if args.json else "\n".join(plan.describe()))
        return 0
    result = prepare_export(basket, args.exportmap, **options)
    if args.json:
        print(json.dumps({"zips": [str(p) for p in result.zips], "blocked": [vars(b) for b in result.blocked]},
                         ensure_ascii=False, indent=1))
        return 0
    for path in result.zips:
        print(f"Written: {path}")
    for b in result.blocked:
        print(f"Held back: '{b.title}' ({b.item_id}): {b.reason}")
    if not result.zips:
        print("Nothing was exported: the basket has no item that can leave now.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cbs-export", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "check", help="check a table file (csv, xlsx, parquet) for disclosure risk",
        description="Check a table file as a plain table and print the verdict. Leading text columns are read as "
                    "row labels. Exit code: 0 pass, 1 fail, 3 review (needs a look or an explanation), 2 a mistake "
                    "in the command or the file.",
    )
    p.add_argument("file", help="the table file (.csv, .xlsx or .parquet)")
    p.add_argument("--sheet", help="the sheet to read from an .xlsx file (default: the first)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("strip", help="strip outputs and data from notebooks before exporting syntax")
    p.set_defaults(func=_cmd_strip)

    p = sub.add_parser("basket", help="list the export basket")
    p.add_argument("--basket", help="the basket folder (default: from the project settings)")
    p.add_argument("--json", action="store_true", help="print the items as JSON")
    p.set_defaults(func=_cmd_basket)

    p = sub.add_parser(
        "prepare", help="write the basket into the exportmap as CBS asks",
        description="Write the basket's exportable items as zips into the right exportmap subfolders, each with "
                    "an output control form and checksums. Items that may not leave are held back and listed.",
    )
    p.add_argument("--exportmap", help="the exportmap folder (default: from the project settings)")
    p.add_argument("--mode", choices=MODES, help="vooraf or achteraf (default: settings, else the exportmap's subfolders)")
    p.add_argument("--project", help="the project number or name for the zip names and the form")
    p.add_argument("--basket", help="the basket folder (default: from the project settings)")
    p.add_argument("--include-exported", action="store_true", help="also export items that were exported before")
    p.add_argument("--dry-run", action="store_true", help="only say what would be written, and why")
    p.add_argument("--json", action="store_true", help="print the plan or the result as JSON")
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
