# The lftf commands' option parsing (cli/options.h).
if(TARGET lftf_cli)
  add_test(NAME cli_options
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_options.sh $<TARGET_FILE:lftf_cli> ${LFTF_SHARED_DIR})
  set_tests_properties(cli_options PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "cli")
endif()
# `lftf` on a GGUF file: info, tokenize, probs against transformers; a truncated file refused
if(TARGET lftf_cli)
  add_test(NAME cli_gguf
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_gguf.sh $<TARGET_FILE:lftf_cli> ${LFTF_SHARED_DIR})
  set_tests_properties(cli_gguf PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "cli")
endif()
