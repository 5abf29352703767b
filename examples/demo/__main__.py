"""``python -m examples.demo`` (``make demo``): the payment-channel outage, end to end."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from examples.demo.stack import Ports, Stack, StackError
from examples.demo.story import run_story


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep everything running at the end")
    parser.add_argument(
        "--workdir", type=Path, help="where configs, logs and data go (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="runbookd-demo-"))
    stack = Stack(workdir, Ports())
    print(
        f"Starting the simulated platform ({stack.ports.url('platform')}), runbookd "
        f"({stack.ports.url('runbookd')}), Prometheus ({stack.ports.url('prometheus')}) and "
        f"Alertmanager ({stack.ports.url('alertmanager')}); logs in {workdir}",
        flush=True,
    )
    try:
        stack.start()
        outcome = run_story(stack, lambda line: print(line, flush=True))
        print(f"\n>>> The post-mortem ({outcome.postmortem_source}):\n")
        print(outcome.postmortem)
        if args.keep:
            print("\nEverything keeps running; press Ctrl-C to stop.", flush=True)
            for proc in stack.procs.values():
                proc.wait()
    except (StackError, RuntimeError) as exc:
        print(f"demo failed: {exc}\nlogs: {workdir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
