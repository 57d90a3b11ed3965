"""`cbs-export`: check files, strip notebooks and scripts, look at the basket and prepare the export from a terminal.

Every user mistake ends in one plain message on stderr and exit code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import UserError
from .settings import MODES

CHECK_EXIT = {"pass": 0, "fail": 1, "review": 3}


def _cmd_check(args: argparse.Namespace) -> int:
    from .check import check
    from .intake import read_source_file, read_table_file

    table = read_table_file(args.file, args.sheet)
    result = check(table, data=read_source_file(args.data) if args.data else None)
    print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1, default=str) if args.json else result.report())
    return CHECK_EXIT[result.status]


def _cmd_strip(args: argparse.Namespace) -> int:
    """Exit 1 when something would leak (--check) or when a stripped copy still has failing findings; else 0."""
    from .strip import strip_any

    if args.check and (args.in_place or args.output_dir):
        raise UserError(
            "--check writes nothing: leave out -o and --in-place, or drop --check to write stripped copies."
        )
    if args.in_place and args.output_dir:
        raise UserError("Give either --in-place or -o DIR, not both.")
    sources = [Path(p) for p in args.notebooks]
    targets = [] if args.check else [_strip_target(src, args) for src in sources]
    clashes = sorted({str(t) for t in targets if targets.count(t) > 1})
    if clashes:
        raise UserError(
            f"Two files would be stripped to the same file ({', '.join(clashes)}). "
            "Strip them one at a time, or into different folders with -o DIR."
        )
    stripped = [strip_any(src) for src in sources]
    if args.check:
        reports = [s.report for s in stripped]
        where = "".join(f"{line}\n" for r in reports for line in r.locations())
        print(where + ("\n" if where else "") + "\n\n".join(r.text() for r in reports))
        return 1 if any(r.would_leak for r in reports) else 0
    reports = [s.write(dst, in_place=args.in_place) for s, dst in zip(stripped, targets, strict=True)]
    print("\n\n".join(r.text() for r in reports))
    return 0 if all(r.ok for r in reports) else 1


def _strip_target(src: Path, args: argparse.Namespace) -> Path:
    from .strip import STRIPPABLE_SCRIPTS

    if args.in_place:
        return src
    suffix = src.suffix if src.suffix.lower() in STRIPPABLE_SCRIPTS else ".ipynb"
    return (args.output_dir or src.parent) / f"{src.stem}.stripped{suffix}"


def _cmd_basket(args: argparse.Namespace) -> int:
    from .basket import Basket

    basket = Basket(args.basket)
    items = basket.items
    if args.json:
        print(
            json.dumps(
                {"basket": str(basket.folder), "items": [i.to_dict() for i in items]},
                ensure_ascii=False,
                indent=1,
                default=str,
            )
        )
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
    if args.dry_run:
        plan = plan_export(basket, args.exportmap, **options)
        print(json.dumps(plan.to_dict(), ensure_ascii=False, indent=1) if args.json else "\n".join(plan.describe()))
        return 0
    result = prepare_export(basket, args.exportmap, **options)
    if args.json:
        print(
            json.dumps(
                {"zips": [str(p) for p in result.zips], "blocked": [vars(b) for b in result.blocked]},
                ensure_ascii=False,
                indent=1,
            )
        )
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
        "check",
        help="check a table file (csv, xlsx, parquet) for disclosure risk",
        description="Check a table file as a plain table and print the verdict. Leading text columns are read as "
        "row labels. Exit code: 0 pass, 1 fail, 3 review (needs a look or an explanation), 2 a mistake "
        "in the command or the file.",
    )
    p.add_argument("file", help="the table file (.csv, .xlsx or .parquet)")
    p.add_argument("--sheet", help="the sheet to read from an .xlsx file (default: the first)")
    p.add_argument(
        "--data",
        metavar="SOURCE",
        help="the microdata the table was made from (.csv, .xlsx, .parquet, .sav, .dta): the cell "
        "statistics are recomputed from it; without it a table cannot pass",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser(
        "strip",
        help="strip outputs and data from notebooks and scripts before exporting syntax",
        description="Notebooks: write NAME.stripped.ipynb and NAME.stripped.py without outputs, attachments, embedded "
        "data or widget state, and report ids or pasted numbers left in the code or text. Scripts (.R .do "
        ".sps .py .sas): write NAME.stripped.EXT with ids masked, pasted tables and counts replaced by a "
        "comment and names taken out of personal paths. With --check: print FILE:LINE: MESSAGE per "
        "finding and exit 1 when anything would leak (a git pre-commit hook).",
    )
    p.add_argument(
        "notebooks", nargs="+", metavar="FILE", help="the notebooks (.ipynb) or scripts (.R .do .sps .py .sas) to strip"
    )
    p.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="write the stripped copies into DIR (default: next to each notebook)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a notebook holds outputs or embedded data, or a notebook or "
        "script holds ids, pasted data or personal paths (for a git pre-commit hook)",
    )
    p.add_argument("--in-place", action="store_true", help="overwrite the notebooks themselves")
    p.set_defaults(func=_cmd_strip)

    p = sub.add_parser("basket", help="list the export basket")
    p.add_argument("--basket", help="the basket folder (default: from the project settings)")
    p.add_argument("--json", action="store_true", help="print the items as JSON")
    p.set_defaults(func=_cmd_basket)

    p = sub.add_parser(
        "prepare",
        help="write the basket into the exportmap as CBS asks",
        description="Write the basket's exportable items as zips into the right exportmap subfolders, each with "
        "an output control form and checksums. Items that may not leave are held back and listed.",
    )
    p.add_argument("--exportmap", help="the exportmap folder (default: from the project settings)")
    p.add_argument(
        "--mode", choices=MODES, help="vooraf or achteraf (default: settings, else the exportmap's subfolders)"
    )
    p.add_argument("--project", help="the project number or name for the zip names and the form")
    p.add_argument("--basket", help="the basket folder (default: from the project settings)")
    p.add_argument("--include-exported", action="store_true", help="also export items that were exported before")
    p.add_argument("--dry-run", action="store_true", help="only say what would be written, and why")
    p.add_argument("--json", action="store_true", help="print the plan or the result as JSON")
    p.set_defaults(func=_cmd_prepare)
    return parser


def _safe_streams() -> None:
    """A console or pipe whose encoding cannot hold every character (cp1252 on Windows) shows `\\u....` for the
    rest instead of crashing the command halfway through its output."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "ascii"
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None or _encodes_all(encoding):
            continue
        try:
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # a stream already in use in another way: leave it
            pass


def _encodes_all(encoding: str) -> bool:
    try:
        "\u20ac\u0101\U0001f600\u2714".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    _safe_streams()
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
