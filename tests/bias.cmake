# Bias suites: WinoBias, CrowS-Pairs, Winogender, DAMA's professions regression.
# Parsers against hand-written inputs and their error messages (no libtorch).
add_lftf_test(test_bias_data SOURCES test_bias_data.c PARSERS_ONLY LABELS parsers data)
