# Datasets, metrics and evaluation (GenBiasEval / GenHintEval, AFGB / UB).
add_lftf_test(test_metrics SOURCES test_metrics.c PARSERS_ONLY LABELS parsers data)
add_lftf_test(test_dataset SOURCES test_dataset.c PARSERS_ONLY LABELS parsers data)

# The shipped files rebuilt from data/README.md by an independent Python
# implementation, compared byte for byte (skips without the fixtures).
if(LFTF_PYTHON3)
  add_test(NAME data_reference
           COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/data_reference.py
                   ${LFTF_SHARED_DIR}/data/professions.json ${PROJECT_SOURCE_DIR}/data)
  set_tests_properties(data_reference PROPERTIES SKIP_RETURN_CODE 77 LABELS "parsers;data")
endif()

# Reports (hand-computed) and evaluation on ../shared/models/stories260k.
add_lftf_test(test_eval SOURCES test_eval.c LABELS data model)

# `lftf eval` / `lftf build-data` end to end through the command line.
if(LFTF_PYTHON3 AND TARGET lftf_cli)
  add_test(NAME eval_cli
           COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/eval_cli_check.py
                   $<TARGET_FILE:lftf_cli> ${LFTF_SHARED_DIR} ${PROJECT_SOURCE_DIR}/data)
  set_tests_properties(eval_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "data;model;cli")
endif()
