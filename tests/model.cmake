# Models: the libtorch shim, loading, the forward, target probabilities, and
# the `lftf probs` / `lftf info` CLI contract.
if(LFTF_WITH_TORCH)
  # libtorch's imported targets (lib/ imported them in its own scope)
  if(NOT TARGET torch)
    find_package(Torch REQUIRED QUIET)
  endif()
  set(LFTF_MODEL_FIXTURES ${CMAKE_CURRENT_BINARY_DIR}/model_fixtures)
  # Set-up: random-weight model directories and their PyTorch reference
  # values (tests/reference/make_models.py; skips itself without ../shared).
  if(LFTF_PYTHON3)
    add_test(NAME model_fixtures
             COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/reference/make_models.py
                     ${LFTF_MODEL_FIXTURES} ${LFTF_SHARED_DIR})
    set_tests_properties(model_fixtures PROPERTIES FIXTURES_SETUP model_fixtures
                         LABELS model TIMEOUT 300)
  endif()
  foreach(t test_model_shim test_model_forward test_model_errors)
    add_lftf_test(${t} SOURCES ${t}.c LABELS model TIMEOUT 300)
    target_compile_definitions(${t} PRIVATE LFTF_MODEL_FIXTURES="${LFTF_MODEL_FIXTURES}")
    set_tests_properties(${t} PROPERTIES FIXTURES_REQUIRED model_fixtures)
  endforeach()
  add_lftf_test(test_model_stories SOURCES test_model_stories.c LABELS model TIMEOUT 300)
  # perf: prefix-shared batches against each sequence run alone
  add_lftf_test(test_shared_batch SOURCES test_shared_batch.c LABELS model TIMEOUT 300)
  # perf: the BLAS thread policy (small products on one thread)
  add_lftf_test(test_blas_threads SOURCES test_blas_threads.c LABELS model TIMEOUT 300)
  target_link_libraries(test_blas_threads PRIVATE ${CMAKE_DL_LIBS})
  # again with libtorch's OpenMP pool sized 2 from the start: the load warns
  add_test(NAME blas_threads_omp2 COMMAND test_blas_threads WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(blas_threads_omp2 PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2" LABELS model
                       TIMEOUT 300 SKIP_RETURN_CODE 77)

  # The CLI contract of `lftf probs` and `lftf info` on stories260k (its
  # README values are the reference); exit 77 = skipped without ../shared.
  if(LFTF_PYTHON3)
    add_test(NAME cli_probs
             COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/reference/check_cli_probs.py
                     $<TARGET_FILE:lftf_cli> ${LFTF_SHARED_DIR})
    set_tests_properties(cli_probs PROPERTIES SKIP_RETURN_CODE 77 LABELS "model;cli" TIMEOUT 300)
  endif()
endif()

# Model families (Qwen3, Gemma 2/3, Phi-3): the C-level checks on the
# family fixtures of make_models.py, and `lftf run` / finetune end to end.
if(LFTF_WITH_TORCH)
  add_lftf_test(test_model_families SOURCES test_model_families.c LABELS model TIMEOUT 300)
  target_compile_definitions(test_model_families PRIVATE LFTF_MODEL_FIXTURES="${LFTF_MODEL_FIXTURES}")
  set_tests_properties(test_model_families PROPERTIES FIXTURES_REQUIRED model_fixtures)
  if(LFTF_PYTHON3)
    add_test(NAME test_run_families
             COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/test_run_families.py)
    set_tests_properties(test_run_families PROPERTIES
      ENVIRONMENT "LFTF_BIN=$<TARGET_FILE:lftf_cli>;LFTF_MODEL_FIXTURES=${LFTF_MODEL_FIXTURES};LFTF_DATA_DIR=${PROJECT_SOURCE_DIR}/data"
      FIXTURES_REQUIRED model_fixtures SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "model;cli;slow")
  endif()
endif()

# Models under a memory budget: streamed blocks, inspect without weights.
if(LFTF_WITH_TORCH)
  add_lftf_test(test_streaming SOURCES test_streaming.c LABELS model TIMEOUT 300)
  target_compile_definitions(test_streaming PRIVATE LFTF_MODEL_FIXTURES="${LFTF_MODEL_FIXTURES}")
  set_tests_properties(test_streaming PROPERTIES FIXTURES_REQUIRED model_fixtures)
  # issue 13: log-likelihoods, MMLU and bias suites block after block under a budget
  add_lftf_test(test_streaming_ll SOURCES test_streaming_ll.c LABELS model TIMEOUT 300)
  target_compile_definitions(test_streaming_ll PRIVATE LFTF_MODEL_FIXTURES="${LFTF_MODEL_FIXTURES}")
  set_tests_properties(test_streaming_ll PROPERTIES FIXTURES_REQUIRED model_fixtures)
endif()

# perf: fused q/k/v and gate/up projections against the unfused model (issue 14)
if(LFTF_WITH_TORCH)
  add_lftf_test(test_fuse SOURCES test_fuse.c LABELS model TIMEOUT 300)
  target_compile_definitions(test_fuse PRIVATE LFTF_MODEL_FIXTURES="${LFTF_MODEL_FIXTURES}")
  set_tests_properties(test_fuse PROPERTIES FIXTURES_REQUIRED model_fixtures)
endif()
# GGUF models (llama.cpp files): the shipped SmolLM2 against transformers' GGUF loading
# (slow: the 135M model loaded twice; kept out of the ASan run)
add_lftf_test(test_gguf_model SOURCES test_gguf_model.c LABELS "model;slow" TIMEOUT 900)
# GGUF files of qwen2, qwen3, gemma2, gemma3, phi3 (tiny, committed) against transformers
add_lftf_test(test_gguf_families SOURCES test_gguf_families.c LABELS model TIMEOUT 300)
