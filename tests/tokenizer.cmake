# Tokenizer tests (lib/tokenizer).
add_lftf_test(test_tokenizer SOURCES test_tokenizer.c PARSERS_ONLY LABELS parsers tokenizer)

# Differential test against @lenml/tokenizers (transformers.js): the fixture
# installs the npm package and writes the corpus and reference ids; the C
# test compares.  See tests/reference/README.md.
add_test(NAME tokenizer_reference_setup
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/reference/setup.sh
                 ${PROJECT_BINARY_DIR}/tokref ${LFTF_SHARED_DIR} ${PROJECT_SOURCE_DIR}/data)
set_tests_properties(tokenizer_reference_setup PROPERTIES
  FIXTURES_SETUP tokenizer_reference SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "parsers;tokenizer")
add_lftf_test(test_tokenizer_reference SOURCES test_tokenizer_reference.c PARSERS_ONLY
              LABELS parsers tokenizer)
set_tests_properties(test_tokenizer_reference PROPERTIES FIXTURES_REQUIRED tokenizer_reference)

# The `lftf tokenize` command (needs the libtorch build, which has the CLI).
if(TARGET lftf_cli)
  add_test(NAME cli_tokenize
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_tokenize.sh $<TARGET_FILE:lftf_cli> ${LFTF_SHARED_DIR})
  set_tests_properties(cli_tokenize PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS "cli;tokenizer")
endif()
