# Real-model checks on SmolLM2-135M-Instruct (the shipped GGUF, or the
# Hugging Face directory in $LFTF_SMOLLM2_DIR): a single ROME edit raises its
# target, DAMA lowers the professions slope.  Each skips (77, saying why)
# when the model does not load.  Both load liblftf into Python, which an
# ASan build cannot do, and take minutes on two busy cores: labelled slow
# (the sanitizer stage runs ctest -LE slow; the release stage runs them).
if(LFTF_WITH_TORCH AND LFTF_PYTHON3 AND TARGET lftf)
  foreach(check rome dama)
    add_test(NAME real_model_${check}
             COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/real_model_checks.py
                     ${LFTF_SHARED_DIR} ${CMAKE_CURRENT_BINARY_DIR}/real_model ${check})
    set_tests_properties(real_model_${check} PROPERTIES
      ENVIRONMENT "LFTF_LIBRARY=$<TARGET_FILE:lftf>"
      SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS "model;editors;real_model;slow")
  endforeach()
  # DAMA's own fit took more than 8 CPU-minutes on SmolLM2 (busy machine)
  set_tests_properties(real_model_dama PROPERTIES TIMEOUT 2400)
endif()
