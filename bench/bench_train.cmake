# Fine-tuning the last block of an 8-block random model: an epoch with the
# prefix cache vs the whole forward at every step (lib/methods/trainer.c).
add_executable(bench_train bench_train.c bench_util.c)
target_compile_definitions(bench_train PRIVATE LFTF_BENCH_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared"
                           LFTF_BENCH_DATA_DIR="${PROJECT_SOURCE_DIR}/data")
target_link_libraries(bench_train PRIVATE lftf_internal ${MATH_LIBRARY})
