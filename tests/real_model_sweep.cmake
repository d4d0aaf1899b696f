# Real-model checks of the sweep and the retain term on SmolLM2-135M-Instruct
# (the shipped GGUF, or the Hugging Face directory in $LFTF_SMOLLM2_DIR): the
# sweep's selected model meets its rule; --retain lowers the KL to the
# original on the retain text.  Each trains the last block on 64 prompts and
# measures perplexity: minutes on two cores, so labelled slow.  Skip (77)
# when the model does not load.
if(LFTF_WITH_TORCH AND LFTF_PYTHON3 AND TARGET lftf)
  foreach(check sweep retain)
    add_test(NAME real_model_${check}
             COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/real_model_sweep.py
                     ${LFTF_SHARED_DIR} ${check})
    set_tests_properties(real_model_${check} PROPERTIES
      ENVIRONMENT "LFTF_LIBRARY=$<TARGET_FILE:lftf>;LFTF_DATA_DIR=${PROJECT_SOURCE_DIR}/data"
      SKIP_RETURN_CODE 77 TIMEOUT 1800 LABELS "lftf;real_model;slow")
  endforeach()
endif()
