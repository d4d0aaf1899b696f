# Weight editors: DAMA, ROME, R-ROME, MEMIT (lib/methods/edit_common.c ...).
# References: scikit-learn's PLSRegression (python3-sklearn), float64 PyTorch
# recomputations of the update formulas, and an independent reading of the
# saved safetensors (tests/editors/*.py).
if(NOT LFTF_WITH_TORCH)
  return()
endif()
if(NOT TARGET torch)
  find_package(Torch REQUIRED QUIET)
endif()
add_lftf_test(test_editors SOURCES test_editors.c LABELS editors TIMEOUT 600)
if(LFTF_PYTHON3)
  foreach(group dama edit)
    add_test(NAME cli_editors_${group}
             COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/editors/cli_editors.py
                     $<TARGET_FILE:lftf_cli> ${LFTF_SHARED_DIR} ${group})
    set_tests_properties(cli_editors_${group} PROPERTIES
      SKIP_RETURN_CODE 77 LABELS "editors;cli" TIMEOUT 900)
  endforeach()
endif()
