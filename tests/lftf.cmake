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
# test_trainer runs the quick cases (torch step references, errors,
# abort/restore, NaN); the whole fits are a second entry labelled "slow", which
# the sanitizer stage leaves out (ctest -LE slow): they take minutes under ASan.
add_lftf_test(test_trainer SOURCES test_trainer.c LABELS lftf TIMEOUT 600)
add_test(NAME test_trainer_slow COMMAND test_trainer slow
         WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(test_trainer_slow PROPERTIES
  TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS "lftf;slow")
add_lftf_test(test_save SOURCES test_save.c LABELS lftf TIMEOUT 300)

# End-to-end: `lftf run` / finetune / apply-delta on stories260k (pytest).
# Each group runs whole fits through the CLI: "slow", not for the sanitizer stage.
if(LFTF_PYTHON3)
  foreach(group demo errors delta ablation baselines)
    add_test(NAME test_run_${group}
             COMMAND ${LFTF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/test_run_lftf.py -k ${group})
    set_tests_properties(test_run_${group} PROPERTIES
      ENVIRONMENT "LFTF_BIN=$<TARGET_FILE:lftf_cli>;LFTF_SHARED_DIR=${LFTF_SHARED_DIR};LFTF_DATA_DIR=${PROJECT_SOURCE_DIR}/data"
      SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "lftf;cli;slow")
  endforeach()
  # weight-editing baselines: --baselines also runs DAMA and three editors
  set_tests_properties(test_run_baselines PROPERTIES TIMEOUT 1800)
endif()
