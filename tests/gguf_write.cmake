# GGUF writing and the ggml quantizers (libtorch-free).
add_lftf_test(test_gguf_write SOURCES test_gguf_write.c PARSERS_ONLY LABELS parsers TIMEOUT 60)
# Checked with the gguf package (gguf-py): quantizers bit-identical to
# gguf.quants.quantize, the layout byte-identical to gguf.GGUFWriter's.  Skips
# (77) without a Python that imports gguf (scripts/ci-venv.sh makes one).
add_executable(gguf_write_sample gguf/write_sample.c)
target_link_libraries(gguf_write_sample PRIVATE lftf_parsers)
if(LFTF_PYTHON3)
  add_test(NAME gguf_write_reference
           COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/gguf/check_gguf_write.py
                   --sample $<TARGET_FILE:gguf_write_sample>)
  set_tests_properties(gguf_write_reference PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                       LABELS "parsers;gguf")
endif()
# lftf convert HF -> GGUF read back by transformers' GGUF loader and the gguf
# package (forward, tokenizer ids, tensors); needs torch + transformers + gguf
# ($LFTF_TRANSFORMERS_PYTHON, scripts/check-torch2.sh), else skips.
if(LFTF_WITH_TORCH AND LFTF_PYTHON3 AND TARGET lftf_cli)
  add_test(NAME gguf_convert_transformers
           COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/gguf/check_convert.py
                   --lftf $<TARGET_FILE:lftf_cli> --shared ${LFTF_SHARED_DIR})
  set_tests_properties(gguf_convert_transformers PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                       LABELS "model;transformers;gguf")
endif()
# Saving a model loaded from GGUF as GGUF (--save-format gguf): metadata and
# untouched tensors carried over byte for byte, changed tensors equal to
# gguf.quants.quantize of lftf's new weights (the same save's HF directory),
# the file reloaded by lftf and by transformers with the same log-probs.
if(LFTF_WITH_TORCH)
  add_executable(gguf_perturb_save gguf/perturb_save.c)
  target_link_libraries(gguf_perturb_save PRIVATE lftf_internal ${MATH_LIBRARY})
endif()
if(LFTF_WITH_TORCH AND LFTF_PYTHON3) # lftf_dump_forward: tests/torch2.cmake
  add_test(NAME gguf_save_reference
           COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/gguf/check_gguf_save.py
                   --perturb $<TARGET_FILE:gguf_perturb_save>
                   --dump $<TARGET_FILE:lftf_dump_forward> --shared ${LFTF_SHARED_DIR})
  set_tests_properties(gguf_save_reference PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900
                       LABELS "model;gguf")
endif()
