"""One module per command: orchestration only, no argument parsing, no printing policy."""
