# Log-likelihood request files (lftf loglikelihood --requests).
add_lftf_fuzzer(fuzz_ll_requests SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_ll_requests.c)
