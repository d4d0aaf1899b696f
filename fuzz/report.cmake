# report.html from a report's JSON (lib/eval/report_html.c).
add_lftf_fuzzer(fuzz_report_html SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_report_html.c)
