# General-ability benchmarks (MMLU, multiple choice, perplexity).
add_lftf_test(test_general_data SOURCES test_general_data.c PARSERS_ONLY LABELS parsers data)
add_lftf_test(test_general_eval SOURCES test_general_eval.c LABELS model data)
# sharded loglikelihood / general / bias runs: merged shards == the unsharded output, byte for byte
if(LFTF_WITH_TORCH)
  add_lftf_test(test_shards_general SOURCES test_shards_general.c LABELS model data TIMEOUT 300)
endif()
