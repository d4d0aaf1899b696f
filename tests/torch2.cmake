# PyTorch 2.x and transformers (issue 16): the shim's attention (fused
# scaled_dot_product_attention on libtorch >= 2.1, the explicit composition on
# 1.13) against a float64 host reference, whichever libtorch this build uses.
add_lftf_test(test_shim_attention SOURCES test_shim_attention.c LABELS model)

# Differential tests against Hugging Face transformers (random models written
# by transformers itself; the debiased model of `lftf run` reloaded by it).
# They need a Python with torch and transformers: $LFTF_TRANSFORMERS_PYTHON or
# the python3 on PATH (scripts/check-torch2.sh sets one up); without one they
# skip (exit 77) with a message.
if(LFTF_WITH_TORCH)
  add_executable(lftf_dump_forward transformers/dump_forward.c)
  target_link_libraries(lftf_dump_forward PRIVATE lftf_internal)
endif()
if(LFTF_WITH_TORCH AND LFTF_PYTHON3 AND TARGET lftf_cli)
  foreach(part forward saved)
    add_test(NAME transformers_${part}
             COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/transformers/check_transformers.py
                     --only ${part} --dump $<TARGET_FILE:lftf_dump_forward>
                     --lftf $<TARGET_FILE:lftf_cli> --shared ${LFTF_SHARED_DIR}
                     --work ${CMAKE_CURRENT_BINARY_DIR}/transformers_${part})
    set_tests_properties(transformers_${part} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1200
                         LABELS "model;transformers")
  endforeach()
endif()
