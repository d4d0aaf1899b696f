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
