# Tokenizer: loading tokenizer.json and encoding / decoding text.
add_lftf_fuzzer(fuzz_tokenizer_load SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_tokenizer_load.c)
add_lftf_fuzzer(fuzz_tokenizer_encode SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_tokenizer_encode.c)
