# Finds LibTorch 2.11 and prepares linking against it.
#
# Order: Torch_DIR / CMAKE_PREFIX_PATH as given; else the torch package of C2FMAE_PYTHON
# (default: the project's .venv, else python3), whose wheel ships LibTorch and
# share/cmake/Torch. Then works around the wheel's NCCL link trap (DESIGN.md §5).
find_package(Torch QUIET)
if(NOT Torch_FOUND)
  if(NOT C2FMAE_PYTHON)
    if(EXISTS "${PROJECT_SOURCE_DIR}/.venv/bin/python")
      set(C2FMAE_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python")
    else()
      set(C2FMAE_PYTHON python3)
    endif()
  endif()
  execute_process(
    COMMAND ${C2FMAE_PYTHON} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE _c2fmae_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _c2fmae_torch_rc ERROR_QUIET)
  if(NOT _c2fmae_torch_rc EQUAL 0)
    message(FATAL_ERROR "c2fmae: LibTorch not found. Set Torch_DIR, or CMAKE_PREFIX_PATH, or "
      "C2FMAE_PYTHON to a python with torch==2.11.0.\nhint: scripts/setup.sh installs it into .venv")
  endif()
  list(APPEND CMAKE_PREFIX_PATH "${_c2fmae_torch_prefix}")
  # Without a GPU to probe, name the architecture we target (H100) for any CUDA code.
  if(NOT TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(TORCH_CUDA_ARCH_LIST "9.0")
  endif()
  find_package(Torch REQUIRED)
endif()
message(STATUS "c2fmae: LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}")

# The wheel's libtorch_cuda.so needs the newer NCCL (and cuDNN, cuBLAS...) shipped beside it
# in site-packages/nvidia/*/lib; ld would otherwise take the CUDA toolkit's older libnccl.
file(GLOB _c2fmae_nvidia_libs LIST_DIRECTORIES true "${TORCH_INSTALL_PREFIX}/../nvidia/*/lib")
foreach(_dir IN LISTS _c2fmae_nvidia_libs)
  get_filename_component(_dir "${_dir}" REALPATH)
  add_link_options("LINKER:-rpath-link,${_dir}")
endforeach()

# The wheel's libtorch.so exports its own copy of std::filesystem (remove_all, read_symlink,
# last_write_time, ...). Listed before libstdc++ in a binary's NEEDED entries, it interposes
# on libstdc++'s, and mixing the two crashes (seen: std::filesystem::remove_all jumping to a
# null pointer). Linking libstdc++ first makes the system implementation win the lookup.
add_link_options("LINKER:--push-state,--no-as-needed" "-lstdc++" "LINKER:--pop-state")
