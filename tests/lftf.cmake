# Locating (BMI), fine-tuning, saving and the `lftf run` pipeline.
# References: tests/reference/*_lftf_ref.py (an independent PyTorch Llama on
# Debian's python3-torch), hand-computed geometry, xmllint.
if(NOT LFTF_WITH_TORCH)
  return()
endif()
# lftf_internal links libtorch's imported targets, which lib/ imported in its
# own directory scope: import them here too so the test executables resolve.
if(NOT TARGET torch)
  find_package(Torch REQUIRED QUIET)
endif()

add_lftf_test(test_locate_svg SOURCES test_locate_svg.c LABELS lftf TIMEOUT 60)
add_lftf_test(test_locate SOURCES test_locate.c LABELS lftf TIMEOUT 300)
add_lftf_test(test_trainer SOURCES test_trainer.c LABELS lftf TIMEOUT 600)
add_lftf_test(test_save SOURCES test_save.c LABELS lftf TIMEOUT 300)

# End-to-end: `lftf run` / finetune / apply-delta on stories260k (pytest).
if(LFTF_PYTHON3)
  foreach(group demo errors delta ablation baselines)
    add_test(NAME test_run_${group}
             COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/test_run_lftf.py -k ${group})
    set_tests_properties(test_run_${group} PROPERTIES
      ENVIRONMENT "LFTF_BIN=$<TARGET_FILE:lftf_cli>;LFTF_SHARED_DIR=${LFTF_SHARED_DIR};LFTF_DATA_DIR=${PROJECT_SOURCE_DIR}/data"
      SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "lftf;cli")
  endforeach()
endif()
