"""The benchmark scripts share one command line: `--json`, and `--quick` applying each one's smoke settings."""

import importlib

import pytest

MODULES = ["decoding_speed", "finetune_throughput", "onnx_latency", "tokenization_throughput"]


@pytest.mark.parametrize("name", MODULES)
def test_quick_applies_the_smoke_settings(name):
    module = importlib.import_module(f"benchmarks.{name}")
    full, quick = module.parse_args([]), module.parse_args(["--quick", "--json", "out.json"])
    assert quick.json == "out.json" and full.json is None
    assert all(getattr(quick, key) == value for key, value in module.QUICK.items())
    assert any(getattr(full, key) != value for key, value in module.QUICK.items())  # --quick changes something
    assert f"benchmarks.{name}" in module.build_parser().format_usage()
