# safetensors and config.json (libtorch-free parsers).
add_lftf_test(test_safetensors SOURCES test_safetensors.c PARSERS_ONLY LABELS parsers TIMEOUT 120)
add_lftf_test(test_config SOURCES test_config.c PARSERS_ONLY LABELS parsers TIMEOUT 60)
# model families (Qwen3, Gemma 2/3, Phi-3): published configs and refusals
add_lftf_test(test_config_families SOURCES test_config_families.c PARSERS_ONLY LABELS parsers TIMEOUT 60)
# GGUF (llama.cpp): parser and bad files; dequantization bit for bit against the gguf package
add_lftf_test(test_gguf SOURCES test_gguf.c PARSERS_ONLY LABELS parsers TIMEOUT 60)
add_lftf_test(test_gguf_quants SOURCES test_gguf_quants.c PARSERS_ONLY LABELS parsers TIMEOUT 300)
add_lftf_test(test_gguf_tokenizers SOURCES test_gguf_tokenizers.c PARSERS_ONLY LABELS parsers TIMEOUT 600)
