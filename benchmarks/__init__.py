"""surge's benchmarks: speed measured side by side with the tools users would pick instead.

`make bench` runs ``python -m benchmarks``; see benchmarks/README.md.
"""
