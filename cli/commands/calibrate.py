"""`surge calibrate SCHEDULE`: measure req/s per vCPU for this scenario (Terraform sizing)."""

from __future__ import annotations

import argparse

from surge.errors import ExitCode

HELP = "Run the schedule's scenario flat out on one core briefly; print req/s per vCPU."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("schedule", metavar="SCHEDULE", help="schedule YAML path")
    parser.add_argument(
        "--target", metavar="URL", help="override the schedule's target (must be in allow_hosts)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how long to run flat out, 1-60 (default 15)",
    )
    parser.add_argument(
        "--ceiling",
        type=float,
        default=50_000.0,
        metavar="RPS",
        help="the ramp's top rate (default 50000: beyond any one core)",
    )


def run(args: argparse.Namespace) -> int:
    from surge.provisioning.calibrate import calibrate

    result = calibrate(
        args.schedule, target=args.target, duration_s=args.duration, ceiling_rps=args.ceiling
    )
    print(
        f"one core sent {result.rps_per_vcpu:,.0f} req/s with this scenario "
        f"({result.samples} one-second samples, CPU peak {result.cpu_peak_percent:.0f} %)"
    )
    if not result.saturated:
        print(
            "note: the generator never saturated its core: the target limited the rate, "
            "so this is a lower bound"
        )
    print("Terraform (terraform.tfvars), for workers sized by target_rps:")
    print(f"  rps_per_vcpu = {result.terraform_value()}")
    print("(measured on this machine's core; calibrate on the worker instance type for the fleet)")
    return ExitCode.PASSED
