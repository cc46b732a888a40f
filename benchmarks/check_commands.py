"""Checks that the commands BENCHMARKS.md names exist and parse, and that every table has one.

    python benchmarks/check_commands.py                  # BENCHMARKS.md, parsers in-process
    python benchmarks/check_commands.py --subprocess     # each script's `--help` output instead
    python benchmarks/check_commands.py README.md --no-tables

A command is a line of a code block, or an inline code span, that starts (after
`VAR=value` environment prefixes and `nice`) with `python benchmarks/NAME.py`,
`python examples/NAME.py`, `NAME.py` of a file in `benchmarks/`, or `vae-keras
COMMAND` with at least one option; `B="python ..."` in a code block defines `$B`
for the lines after it. Each command is checked without running anything:

- in-process (default): the script is imported under another module name and the
  argument parser its `main()` builds is captured (or its `build_parser()` used),
  then the command's own arguments go through `parser.parse_args`, so unknown
  flags, missing values, wrong types and invalid choices all fail;
  `vae-keras` commands go through `vae_keras.cli.parser.build_parser()`;
- `--subprocess`: every `--flag` of the command must appear in `python SCRIPT
  --help` (or `vae-keras COMMAND --help`) output.

Tables: every Markdown table must have a command between the previous table (or
heading) and its end, or in the paragraph right after it, so that each table names the
command that produced it.
"""

import argparse
import contextlib
import importlib.util
import io
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_DIRS = ("benchmarks", "examples")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")
_ASSIGN = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"\s*$')


@dataclass
class Command:
    line: int  # 1-based line of the document where it starts
    text: str  # as written (variables expanded, continuations joined)
    program: str = ""  # "benchmarks/x.py", "examples/y.py" or "vae-keras"
    argv: list = field(default_factory=list)


def _strip_prefixes(tokens):
    """Drops `VAR=value` environment assignments and `nice [-n N]` in front of a command."""
    while tokens:
        if _ENV.match(tokens[0]):
            tokens = tokens[1:]
        elif tokens[0] == "nice":
            tokens = tokens[1:]
            if tokens and tokens[0] == "-n":
                tokens = tokens[2:]
            elif tokens and re.fullmatch(r"-?\d+", tokens[0]):
                tokens = tokens[1:]
        else:
            return tokens
    return tokens


def parse_command(text, line):
    """A `Command` if `text` is one of the commands this checker knows, else None."""
    try:
        tokens = shlex.split(text, comments=True)
    except ValueError:
        return None
    tokens = _strip_prefixes(tokens)
    if not tokens:
        return None
    if tokens[0] in ("python", "python3") and len(tokens) > 1:
        script = tokens[1]
        if any(script.startswith(d + "/") and script.endswith(".py") for d in SCRIPT_DIRS):
            return Command(line, text, script, tokens[2:])
        return None
    if tokens[0].endswith(".py") and "/" not in tokens[0]:
        if (ROOT / "benchmarks" / tokens[0]).exists():
            return Command(line, text, "benchmarks/" + tokens[0], tokens[1:])
        return None
    if tokens[0] == "vae-keras" and any(t.startswith("-") for t in tokens[1:]):
        return Command(line, text, "vae-keras", tokens[1:])
    return None


def _code_lines(lines):
    """(line number, text, in code block?) for every line; fenced and indented blocks."""
    fenced, previous_blank = False, True
    out = []
    for number, text in enumerate(lines, 1):
        if text.lstrip().startswith("```"):
            fenced = not fenced
            out.append((number, "", True))  # the fence itself: neither prose nor command
            previous_blank = False
            continue
        indented = text.startswith("    ") and (previous_blank or (out and out[-1][2]))
        out.append((number, text, fenced or (indented and not text.lstrip().startswith("|"))))
        previous_blank = not text.strip()
    return out


def extract_commands(markdown):
    """Every command in a Markdown text (see the module docstring), in document order."""
    lines = markdown.splitlines()
    annotated = _code_lines(lines)
    commands, variables = [], {}
    pending, pending_line = "", 0
    prose = []  # (line number, text) of lines outside code blocks
    for number, text, in_code in annotated:
        if not in_code:
            prose.append((number, text))
            pending = ""
            continue
        body = text.strip()
        if body.endswith("\\"):
            pending, pending_line = pending + body[:-1] + " ", pending_line or number
            continue
        body, start = pending + body, pending_line or number
        pending, pending_line = "", 0
        assign = _ASSIGN.match(body)
        if assign:
            variables[assign.group(1)] = assign.group(2)
            continue
        for name, value in variables.items():
            body = body.replace("$" + name, value)
        command = parse_command(body, start)
        if command:
            commands.append(command)
    # Inline code spans, which may wrap over lines of a paragraph.
    text = "\n".join(t for _, t in prose)
    numbers = [n for n, _ in prose]
    offsets = [0]
    for _, t in prose:
        offsets.append(offsets[-1] + len(t) + 1)
    for match in re.finditer(r"`([^`]+)`", text):
        span = " ".join(match.group(1).split())
        index = max(i for i, off in enumerate(offsets[:-1]) if off <= match.start())
        command = parse_command(span, numbers[index])
        if command:
            commands.append(command)
    return sorted(commands, key=lambda c: c.line)


class _Captured(Exception):  # noqa: N818 (a signal, not an error)
    def __init__(self, parser):
        super().__init__()
        self.parser = parser


def _load_parser(program):
    """The argparse parser of a script (its `build_parser()`, or the one `main()` builds)."""
    saved_path = list(sys.path)
    try:
        if program == "vae-keras":
            sys.path.insert(0, str(ROOT))
            from vae_keras.cli.parser import build_parser

            return build_parser()
        path = ROOT / program
        sys.path[:0] = [str(path.parent), str(ROOT)]  # as `python SCRIPT` from the root sees it
        name = "_checked_" + program.replace("/", "_").removesuffix(".py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "build_parser"):
            return module.build_parser()
        return _parser_of_main(program, module)
    finally:
        sys.path[:] = saved_path


def _parser_of_main(program, module):
    """Runs `module.main()` until it parses its arguments, and returns that parser."""

    def capture(self, *args, **kwargs):
        raise _Captured(self)

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = capture
    try:
        module.main()
    except _Captured as captured:
        return captured.parser
    finally:
        argparse.ArgumentParser.parse_args = original
    raise RuntimeError(f"{program}: main() built no argument parser")


def check_in_process(command, parsers):
    """None if `command` parses, else the parser's message."""
    if command.program not in parsers:
        parsers[command.program] = _load_parser(command.program)
    parser = parsers[command.program]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(command.argv)
    except SystemExit as stop:
        if stop.code:
            return stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue() else "failed"
    return None


def _help_text(command):
    if command.program == "vae-keras":
        sub = [a for a in command.argv if not a.startswith("-")][:1]
        args = [sys.executable, "-m", "vae_keras", *sub, "--help"]
    else:
        args = [sys.executable, str(ROOT / command.program), "--help"]
    env = {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    import os

    proc = subprocess.run(
        args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    return proc.returncode, proc.stdout


def check_subprocess(command, helps):
    key = (command.program, tuple(a for a in command.argv if not a.startswith("-"))[:1])
    if key not in helps:
        helps[key] = _help_text(command)
    code, text = helps[key]
    if code:
        return f"`--help` exited with {code}"
    known = set(re.findall(r"(--[A-Za-z0-9][A-Za-z0-9-]*)", text))
    unknown = [
        a.split("=")[0] for a in command.argv if a.startswith("--") and a.split("=")[0] not in known
    ]
    return f"not in --help: {', '.join(unknown)}" if unknown else None


def check_commands(markdown, subprocess_mode=False):
    """[(Command, problem or None)] for every command of `markdown`."""
    results, cache = [], {}
    for command in extract_commands(markdown):
        if command.program != "vae-keras" and not (ROOT / command.program).exists():
            results.append((command, f"no such script: {command.program}"))
            continue
        check = check_subprocess if subprocess_mode else check_in_process
        results.append((command, check(command, cache)))
    return results


def tables_without_command(markdown):
    """First lines of the tables with no command in the text around them: after the previous
    table (or heading), or in the paragraph or code block right after the table."""
    lines = markdown.splitlines()
    command_lines = {c.line for c in extract_commands(markdown)}
    code = {n for n, _, in_code in _code_lines(lines) if in_code}
    tables = []  # (first line, last line), 1-based
    for number, text in enumerate(lines, 1):
        if text.startswith("|") and number not in code:
            if tables and tables[-1][1] == number - 1:
                tables[-1] = (tables[-1][0], number)
            else:
                tables.append((number, number))
    headings = [n for n, t in enumerate(lines, 1) if t.startswith("#") and n not in code]
    missing = []
    for i, (first, last) in enumerate(tables):
        low = max([tables[i - 1][1] if i else 0] + [h for h in headings if h < first])
        nexts = [tables[i + 1][0]] if i + 1 < len(tables) else []
        # After the table: the paragraph (or code block) that follows it, no further.
        after = last + 1
        while after <= len(lines) and not lines[after - 1].strip():
            after += 1
        while after <= len(lines) and lines[after - 1].strip():
            after += 1
        high = min(nexts + [h for h in headings if h > last] + [after])
        # A command may start on a line inside a multi-line span: count the span's lines too.
        if not any(low < n < high for n in command_lines):
            missing.append(first)
    return missing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=["BENCHMARKS.md"])
    parser.add_argument(
        "--subprocess", action="store_true", help="check flags against each script's --help"
    )
    parser.add_argument(
        "--no-tables", action="store_true", help="skip the check that each table has a command"
    )
    parser.add_argument("--list", action="store_true", help="print every command found")
    args = parser.parse_args(argv)

    failures = 0
    for name in args.files:
        path = Path(name) if Path(name).is_absolute() else ROOT / name
        markdown = path.read_text()
        results = check_commands(markdown, args.subprocess)
        for command, problem in results:
            if problem:
                failures += 1
                print(f"{path.name}:{command.line}: {command.text}\n    {problem}")
            elif args.list:
                print(
                    f"{path.name}:{command.line}: ok  {command.program} {shlex.join(command.argv)}"
                )
        if not args.no_tables:
            for line in tables_without_command(markdown):
                failures += 1
                print(f"{path.name}:{line}: table with no command in the text around it")
        print(f"{path.name}: {len(results)} commands checked")
    if failures:
        print(f"{failures} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
