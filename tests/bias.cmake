# Bias suites: WinoBias, CrowS-Pairs, Winogender, DAMA's professions regression.
# Parsers against hand-written inputs and their error messages (no libtorch).
add_lftf_test(test_bias_data SOURCES test_bias_data.c PARSERS_ONLY LABELS parsers data)
# Every figure against an independent recomputation (Python from the issue
# text + a float64 PyTorch Llama) on stories260k and a random-weight model,
# the regression against numpy.linalg.lstsq, CLI == Python, bad inputs.
# Labelled slow: it loads liblftf into Python, which an ASan build cannot do
# (the sanitizer stage runs ctest -LE slow); test_bias_eval covers the C side there.
if(LFTF_WITH_TORCH AND LFTF_PYTHON3 AND TARGET lftf_cli)
  add_test(NAME bias_reference
           COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/bias_reference.py
                   $<TARGET_FILE:lftf_cli> ${LFTF_SHARED_DIR} ${PROJECT_SOURCE_DIR}/data
                   ${CMAKE_CURRENT_BINARY_DIR}/bias_reference)
  set_tests_properties(bias_reference PROPERTIES
    ENVIRONMENT "LFTF_LIBRARY=$<TARGET_FILE:lftf>"
    SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "model;cli;data;slow")
endif()
# The C API (errors, abort, figure lookup, atomic JSON) and lt_lstsq by hand.
add_lftf_test(test_bias_eval SOURCES test_bias_eval.c LABELS model data TIMEOUT 300)
