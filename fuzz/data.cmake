# The JSONL dataset loader (GenBiasEval / GenHintEval / user files).
add_lftf_fuzzer(fuzz_dataset SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_dataset.c)
