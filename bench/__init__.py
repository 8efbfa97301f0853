"""`legguard bench`: reaction, overhead, throughput, recovery, memory and simulation speed, each
next to a floor measured in the same run (issue 7). Entry point: `bench.cli.run_bench`."""
