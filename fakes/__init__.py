"""Development fakes: stand-ins for outside systems, run by the local stack, tests and benchmarks; never shipped."""
