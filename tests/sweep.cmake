# Recipe sweeps: the --select rule parser (lftf sweep / lftf run --select).
add_lftf_test(test_select_rule SOURCES test_select_rule.c PARSERS_ONLY LABELS parsers)

# `lftf sweep` / `lftf run --select` end to end on stories260k (whole fits:
# "slow", like the other CLI runs).
if(LFTF_WITH_TORCH AND LFTF_PYTHON3)
  add_test(NAME test_sweep_cli
           COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/test_sweep_cli.py)
  set_tests_properties(test_sweep_cli PROPERTIES
    ENVIRONMENT "LFTF_BIN=$<TARGET_FILE:lftf_cli>;LFTF_SHARED_DIR=${LFTF_SHARED_DIR};LFTF_DATA_DIR=${PROJECT_SOURCE_DIR}/data"
    SKIP_RETURN_CODE 77 TIMEOUT 1800 LABELS "lftf;cli;slow")
endif()
