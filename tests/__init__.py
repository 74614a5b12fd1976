"""tfnlp tests (a package, so `tests.*` never resolves to the `tests` package tf2onnx installs)."""
