#!/usr/bin/env python3
"""CI's time budget (.ci/run): fails when the build took over 12 minutes, the tests over 6,
or one CTest entry over 60 s, on CI's 2-core machine (README, "Build and test times").

  scripts/check_budget.py --build-seconds 540 --tests-seconds 250 --junit build/ctest-junit.xml

Prints each phase against its budget and the slowest entries; exits 1 over budget, 2 on bad
arguments or an unreadable JUnit file (CTest's --output-junit).
"""
import argparse
import sys
import xml.etree.ElementTree as ET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-seconds", type=float, required=True)
    parser.add_argument("--tests-seconds", type=float, required=True)
    parser.add_argument("--junit", required=True, help="CTest's --output-junit file")
    parser.add_argument("--build-budget", type=float, default=12 * 60)
    parser.add_argument("--tests-budget", type=float, default=6 * 60)
    parser.add_argument("--entry-budget", type=float, default=60)
    parser.add_argument("--fail-on", default="build,tests,entry",
                        help="which overruns fail (comma-separated: build, tests, entry); the "
                             "others are printed as warnings")
    args = parser.parse_args()
    try:
        cases = [(c.get("name"), float(c.get("time", "0")))
                 for c in ET.parse(args.junit).getroot().iter("testcase")]
    except (OSError, ET.ParseError, ValueError) as e:
        print(f"check_budget: cannot read {args.junit}: {e}", file=sys.stderr)
        return 2
    if not cases:
        print(f"check_budget: {args.junit} lists no test", file=sys.stderr)
        return 2
    fail_on = {f.strip() for f in args.fail_on.split(",") if f.strip()}
    if not fail_on <= {"build", "tests", "entry"}:
        print(f"check_budget: --fail-on {args.fail_on}: use build, tests, entry", file=sys.stderr)
        return 2
    over = []

    def phase(name: str, seconds: float, budget: float, kind: str) -> None:
        mark = "ok" if seconds <= budget else (
            "OVER BUDGET" if kind in fail_on else "over budget (a warning)")
        print(f"budget: {name} {seconds:.0f} s of {budget:.0f} s: {mark}")
        if seconds > budget and kind in fail_on:
            over.append(name)

    phase("build", args.build_seconds, args.build_budget, "build")
    phase("tests", args.tests_seconds, args.tests_budget, "tests")
    cases.sort(key=lambda c: -c[1])
    for name, seconds in cases[:5]:
        print(f"budget:   {name}: {seconds:.1f} s")
    for name, seconds in cases:
        if seconds > args.entry_budget:
            phase(f"test entry {name}", seconds, args.entry_budget, "entry")
    if over:
        print("budget: over budget: " + ", ".join(over) + " (split the suite, or make the build "
              "or the test smaller; README, 'Build and test times')", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
