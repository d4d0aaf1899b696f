/* STUB: the libtorch shim, to be written. */
#include <torch/torch.h>
