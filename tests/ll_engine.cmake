# Log-likelihood engine, key/value cache and greedy generation (issue 9).
if(LFTF_WITH_TORCH)
  add_lftf_test(test_ll_engine SOURCES test_ll_engine.c LABELS model TIMEOUT 300)
  target_compile_definitions(test_ll_engine PRIVATE LFTF_MODEL_FIXTURES="${CMAKE_CURRENT_BINARY_DIR}/model_fixtures")
  set_tests_properties(test_ll_engine PROPERTIES FIXTURES_REQUIRED model_fixtures)
endif()
