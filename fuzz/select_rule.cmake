# `--select` rules of lftf sweep / lftf run (command-line input).
add_lftf_fuzzer(fuzz_select_rule SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_select_rule.c)
