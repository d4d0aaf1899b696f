# Bias suites: the WinoBias, CrowS-Pairs, Winogender and professions parsers.
add_lftf_fuzzer(fuzz_bias_winobias SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_bias_winobias.c)
add_lftf_fuzzer(fuzz_bias_crows SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_bias_crows.c)
add_lftf_fuzzer(fuzz_bias_professions SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_bias_professions.c)
