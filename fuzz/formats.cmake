# safetensors and config.json parsers.
add_lftf_fuzzer(fuzz_safetensors SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_safetensors.c)
add_lftf_fuzzer(fuzz_config SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_config.c)
# GGUF header, metadata and tensor infos.
add_lftf_fuzzer(fuzz_gguf SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_gguf.c)
# tokenizer.json -> GGUF tokenizer metadata (lftf convert, --save-format gguf)
add_lftf_fuzzer(fuzz_gguf_vocab SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_gguf_vocab.c)
