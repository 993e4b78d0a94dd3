"""Records of runs: run directories, atomic file writes, (later) the results database."""
