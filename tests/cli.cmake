# The lftf commands' option parsing (cli/options.h).
if(TARGET lftf_cli)
  add_test(NAME cli_options
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_options.sh $<TARGET_FILE:lftf_cli> ${LFTF_SHARED_DIR})
  set_tests_properties(cli_options PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "cli")
endif()
