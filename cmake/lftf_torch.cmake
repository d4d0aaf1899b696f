# Finds libtorch for liblftf: Debian's libtorch 1.13 (CPU), a libtorch
# archive, or the libtorch inside a PyTorch 2.x wheel
# (-DCMAKE_PREFIX_PATH=$(python -c 'import torch;print(torch.utils.cmake_prefix_path)')).
#
# A CUDA-enabled libtorch's CMake config (Caffe2's public/cuda.cmake) looks for
# a complete CUDA toolkit (nvcc, enable_language(CUDA), the toolkit's
# libraries) and stops with "Your installed Caffe2 version uses CUDA but I
# cannot find the CUDA libraries" when there is none, as on a login node or a
# CPU-only build machine.  liblftf compiles no CUDA code: it only links
# libtorch_cuda/libc10_cuda, which find their CUDA runtime libraries at run
# time themselves (a wheel through its RPATH into the nvidia-* packages).  So
# when no CUDA toolkit is found we define the one target that Caffe2's CUDA
# libraries reference, torch::cudart, as an empty interface target before
# find_package(Torch); Caffe2's cuda.cmake then returns at its include guard
# (`if(TARGET torch::cudart) return()`).
#
#   LFTF_CUDA_TOOLKIT=AUTO (default): use the toolkit when one is found, else
#                     the above;
#   OFF: never look for a toolkit (the above, always);
#   ON:  require one (Caffe2's own behaviour).
set(LFTF_CUDA_TOOLKIT AUTO CACHE STRING "How libtorch's CMake config gets CUDA: AUTO, ON (require a CUDA toolkit) or OFF (link libtorch_cuda without one)")
set_property(CACHE LFTF_CUDA_TOOLKIT PROPERTY STRINGS AUTO ON OFF)

if(NOT TARGET torch::cudart)
  set(_lftf_cuda_stub OFF)
  if(LFTF_CUDA_TOOLKIT STREQUAL "OFF")
    set(_lftf_cuda_stub ON)
  elseif(LFTF_CUDA_TOOLKIT STREQUAL "AUTO")
    find_package(CUDAToolkit QUIET)
    if(NOT CUDAToolkit_FOUND OR NOT CUDAToolkit_NVCC_EXECUTABLE OR NOT EXISTS "${CUDAToolkit_NVCC_EXECUTABLE}")
      set(_lftf_cuda_stub ON)
    endif()
  endif()
  if(_lftf_cuda_stub)
    add_library(torch::cudart INTERFACE IMPORTED)
    set(LFTF_TORCH_CUDA_STUB ON)
  endif()
endif()

find_package(Torch REQUIRED)

# TorchConfig finds its libraries with find_library(... PATHS <libtorch>/lib),
# and PATHS come after the system directories: with Debian's libtorch-dev also
# installed, c10_LIBRARY (in TORCH_LIBRARIES) is /usr/lib's libc10 1.13, and a
# wheel's liblftf would load two different c10s.  Pin those cache entries to
# libtorch's own copies and look again.
set(_lftf_torch_repinned OFF)
foreach(_v TORCH_LIBRARY c10_LIBRARY C10_CUDA_LIBRARY kineto_LIBRARY)
  if(${_v})
    get_filename_component(_dir "${${_v}}" DIRECTORY)
    get_filename_component(_name "${${_v}}" NAME)
    get_filename_component(_own "${TORCH_INSTALL_PREFIX}/lib" REALPATH)
    get_filename_component(_dir_real "${_dir}" REALPATH)
    if(NOT _dir_real STREQUAL _own AND EXISTS "${_own}/${_name}")
      message(STATUS "liblftf: ${_v} was ${${_v}}; using libtorch's own ${_own}/${_name}")
      set(${_v} "${_own}/${_name}" CACHE FILEPATH "libtorch's ${_name}" FORCE)
      set(_lftf_torch_repinned ON)
    endif()
  endif()
endforeach()
if(_lftf_torch_repinned)
  find_package(Torch REQUIRED)
endif()

if(LFTF_TORCH_CUDA_STUB AND TARGET torch_cuda)
  message(STATUS "liblftf: CUDA-enabled libtorch ${Torch_VERSION} without a CUDA toolkit: "
                 "linking libtorch_cuda as is (liblftf compiles no CUDA code)")
endif()

# libtorch 2.x's headers need C++20 when its config asks for it (TorchConfig
# adds cxx_std_20 to the torch target); 1.13 builds with C++17.
get_target_property(_lftf_torch_features torch INTERFACE_COMPILE_FEATURES)
if(_lftf_torch_features MATCHES "cxx_std_20")
  set(LFTF_TORCH_CXX_STANDARD 20)
else()
  set(LFTF_TORCH_CXX_STANDARD 17)
endif()
