# General-ability benchmarks (MMLU, multiple choice, perplexity).
add_lftf_test(test_general_data SOURCES test_general_data.c PARSERS_ONLY LABELS parsers data)
add_lftf_test(test_general_eval SOURCES test_general_eval.c LABELS model data)
