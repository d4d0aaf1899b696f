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
# Progress lines: in place under a pseudo-terminal, throttled without '\r' in
# a pipe, silenced by --quiet (a deterministic clock: LFTF_PROGRESS_FAKE_CLOCK).
if(LFTF_PYTHON3 AND TARGET lftf_cli)
  add_test(NAME cli_progress
           COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/progress_cli.py
                   $<TARGET_FILE:lftf_cli> ${LFTF_SHARED_DIR} ${PROJECT_SOURCE_DIR}/data)
  set_tests_properties(cli_progress PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "cli;model")
endif()
# report.html in headless Chromium (Debian package chromium): loads without
# errors, self-contained, report.json's numbers in the DOM; skipped without it.
if(LFTF_PYTHON3 AND TARGET lftf_cli)
  add_test(NAME report_html_browser
           COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/report_html_check.py
                   $<TARGET_FILE:lftf_cli> ${LFTF_SHARED_DIR})
  set_tests_properties(report_html_browser PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                       LABELS "cli;model;browser")
endif()
