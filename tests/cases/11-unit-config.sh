#!/usr/bin/env bash
# Unit tests of kvlbd's configuration parser (ASan/UBSan build).
. "$(dirname "$0")/../lib.sh"
run_unit unit-config "$KVLB_BUILD/tests/test_config"
