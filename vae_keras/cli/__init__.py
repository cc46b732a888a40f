"""The `vae-keras` command: train, evaluate, sample, plot, export; presets to start from.

    vae-keras presets                                   # pretrained models, no training
    vae-keras sample --preset mnist_conv_z2
    vae-keras train --data-dir ../shared/datasets/mnist
    vae-keras evaluate --model runs/RUN/model.keras
    vae-keras sample --model runs/RUN/model.keras --num-samples 64
    vae-keras plot --model runs/RUN/model.keras
    vae-keras export --model runs/RUN/model.keras --out DIR
    vae-keras explore --model runs/RUN/model.keras

Errors in what the user passed (or in the files, disk or memory it needs) print
one line naming the file or value and the fix, and exit with status 2; an
internal error exits with status 1, its traceback shown with --debug. A run
folder is owned by one `train` at a time (run.lock) and every stage of a run
resumes when the same command is rerun (see `vae_keras.app.runs`).
"""

import sys

from vae_keras.cli.errors import describe
from vae_keras.cli.parser import build_parser
from vae_keras.cli.scoring import evaluate
from vae_keras.cli.training import train
from vae_keras.cli.viewing import explore, export, list_presets, plot, sample

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = {
    "presets": list_presets,
    "train": train,
    "evaluate": evaluate,
    "sample": sample,
    "plot": plot,
    "export": export,
    "explore": explore,
}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `vae-keras` alone: the list of commands
        parser.print_help()
        return 0
    try:
        COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"vae-keras {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001  one line for users; --debug shows the traceback
        if getattr(args, "debug", False):
            raise
        described = describe(error)
        if described is None:
            print(
                f"vae-keras {args.command}: internal error: {type(error).__name__}: "
                f"{' '.join(str(error).split())[:500]} (rerun with --debug for the traceback, "
                "and please report it)",
                file=sys.stderr,
            )
            return 1
        status, message = described
        print(f"vae-keras {args.command}: error: {message}", file=sys.stderr)
        return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
