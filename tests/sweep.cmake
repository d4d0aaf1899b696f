# Recipe sweeps: the --select rule parser (lftf sweep / lftf run --select).
add_lftf_test(test_select_rule SOURCES test_select_rule.c PARSERS_ONLY LABELS parsers)
