# General-ability benchmark data: MMLU CSV files and multiple-choice JSONL.
add_lftf_fuzzer(fuzz_mmlu_csv SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_mmlu_csv.c)
add_lftf_fuzzer(fuzz_mc SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_mc.c)
