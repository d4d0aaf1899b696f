# Weight editors: the JSONL file of editing requests.
add_lftf_fuzzer(fuzz_edit_requests SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_edit_requests.c)
