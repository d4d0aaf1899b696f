/*
 * liblftf — Locating First and Then Fine-Tuning (Qin et al. 2025) for
 * measuring and mitigating gender bias in large language models.
 *
 * Stable C API.  Conventions (see README.md, "API conventions"):
 *
 *  - Every call that can fail returns int: LFTF_OK (0) or a negative
 *    lftf_status.  lftf_status_str() names a code; lftf_last_error() returns
 *    the calling thread's message for the last failure (never NULL).
 *  - Objects are opaque handles created through out-parameters and released
 *    with lftf_*_free(), which accepts NULL.
 *  - Options are structs passed by const pointer whose first member is
 *    struct_size; fill them with lftf_*_params_init() and then change what you
 *    need.  A NULL params pointer means "all defaults".
 *  - Memory: strings and arrays that a call returns through a `char **` or
 *    `T **` out-parameter are owned by the caller and released with
 *    lftf_free().  `const` pointers returned by getters are borrowed: they stay
 *    valid until the owning handle is freed (or modified, where noted).
 *  - Threading: a handle is used by one thread at a time.  Different handles
 *    may be used from different threads concurrently, except that a dataset,
 *    tokenizer or report may be read from many threads at once.  A model is
 *    mutated by training: do not evaluate a model while a trainer runs on it.
 *    The log callback and thread count are process-global.
 *  - Long operations take an lftf_progress_fn; a non-zero return aborts the
 *    operation with LFTF_E_ABORTED, leaving no half-written output and (for
 *    training) the model as it was before the call.
 */
#ifndef LFTF_H
#define LFTF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define LFTF_API __declspec(dllexport)
#elif defined(__GNUC__)
#  define LFTF_API __attribute__((visibility("default")))
#else
#  define LFTF_API
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

#define LFTF_VERSION_MAJOR 0
#define LFTF_VERSION_MINOR 1
#define LFTF_VERSION_PATCH 0
#define LFTF_VERSION_NUMBER \
    (LFTF_VERSION_MAJOR * 10000 + LFTF_VERSION_MINOR * 100 + LFTF_VERSION_PATCH)
#define LFTF_VERSION_STRING "0.1.0"

/** "MAJOR.MINOR.PATCH" of the loaded library (compare with LFTF_VERSION_STRING). */
LFTF_API const char *lftf_version(void);
/** LFTF_VERSION_NUMBER of the loaded library. */
LFTF_API unsigned lftf_version_number(void);

/* ------------------------------------------------------------------ */
/* Status codes and errors                                             */
/* ------------------------------------------------------------------ */

typedef enum lftf_status {
    LFTF_OK = 0,
    LFTF_E_INVALID_ARG = -1,  /* a NULL handle, bad option value, bad params struct_size */
    LFTF_E_NOMEM = -2,        /* host allocation failed */
    LFTF_E_IO = -3,           /* a file or directory is missing, unreadable or unwritable */
    LFTF_E_FORMAT = -4,       /* malformed file content: JSON, JSONL, safetensors */
    LFTF_E_UNSUPPORTED = -5,  /* unknown architecture, dtype, tokenizer component, device */
    LFTF_E_NOT_FOUND = -6,    /* a required tensor, field, token or dataset is missing */
    LFTF_E_RANGE = -7,        /* index out of range, prompt longer than the model allows */
    LFTF_E_TORCH = -8,        /* libtorch reported an error */
    LFTF_E_DEVICE = -9,       /* device unavailable or out of device memory */
    LFTF_E_ABORTED = -10,     /* a progress callback asked to stop */
    LFTF_E_NUMERIC = -11,     /* NaN or infinite value (e.g. a training loss) */
    LFTF_E_EXISTS = -12,      /* output exists, is not empty, or equals the input */
    LFTF_E_ENCODING = -13,    /* invalid UTF-8 in text */
    LFTF_E_EMPTY = -14        /* an empty dataset or selection */
} lftf_status;

/** Static name of a status code, e.g. "LFTF_E_IO: input/output error". Never NULL. */
LFTF_API const char *lftf_status_str(int status);
/** The calling thread's message for its last failed call; "" if none. Never NULL.
 *  Borrowed: valid until the next failing call on this thread. */
LFTF_API const char *lftf_last_error(void);
/** Clears this thread's last error message. */
LFTF_API void lftf_clear_error(void);
/** Releases memory that liblftf returned through an out-parameter. NULL is fine. */
LFTF_API void lftf_free(void *ptr);

/* ------------------------------------------------------------------ */
/* Logging, progress, threads                                          */
/* ------------------------------------------------------------------ */

typedef enum lftf_log_level {
    LFTF_LOG_DEBUG = 0,
    LFTF_LOG_INFO = 1,
    LFTF_LOG_WARN = 2,
    LFTF_LOG_ERROR = 3,
    LFTF_LOG_NONE = 4
} lftf_log_level;

typedef void (*lftf_log_fn)(lftf_log_level level, const char *message, void *user);

/** Installs a process-global log callback (NULL restores the default, which
 *  writes messages at or above the log level to stderr). */
LFTF_API void lftf_set_log_callback(lftf_log_fn fn, void *user);
/** Minimum level passed to the log callback (default LFTF_LOG_WARN). */
LFTF_API void lftf_set_log_level(lftf_log_level level);

/** Progress of a long operation.  `stage` names the phase ("load", "eval",
 *  "locate", "train", "save", ...), possibly followed by a detail in brackets
 *  ("bias [winobias]", "train [epoch 1/2]": compare the part before " [");
 *  done/total count its units (total may be 0 if unknown); a phase ends with
 *  done == total.  Return 0 to continue, non-zero to abort (LFTF_E_ABORTED). */
typedef int (*lftf_progress_fn)(const char *stage, size_t done, size_t total, void *user);

/** CPU threads (process-global).  With OpenBLAS's own pthreads (Debian's
 *  libopenblas0-pthread): at most n BLAS threads per matrix product (n <= 0:
 *  OpenBLAS's default, OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / the CPUs)
 *  and one libtorch intra-op thread, so the two pools, which spin while
 *  idle, never compete for the cores (libtorch's OpenMP threads beside
 *  OpenBLAS's ran the bench evaluation 2.4x slower).  With another BLAS
 *  (MKL, which shares libtorch's pool): n libtorch intra-op threads; n <= 0
 *  keeps libtorch's default.  Either way a product below ~64M multiply-adds
 *  runs on one BLAS thread: waking others costs more than it saves.  The
 *  `lftf` program calls this at start (with --threads N, else 0); without a
 *  call the library leaves its host's settings alone. */
LFTF_API int lftf_set_num_threads(int n);
/** 1 if a CUDA device is usable by this build, else 0. */
LFTF_API int lftf_cuda_available(void);

/* ------------------------------------------------------------------ */
/* Tokenizer (Hugging Face tokenizer.json)                             */
/* ------------------------------------------------------------------ */

typedef struct lftf_tokenizer lftf_tokenizer;

typedef struct lftf_tokenizer_params {
    size_t struct_size;
    /** -1: add BOS as the tokenizer's files say (post-processor or
     *  tokenizer_config.json add_bos_token); 0: never; 1: always. */
    int add_bos;
} lftf_tokenizer_params;

LFTF_API int lftf_tokenizer_params_init(lftf_tokenizer_params *params);

/** Loads a tokenizer.json, or a directory holding one.  A
 *  tokenizer_config.json beside it is read when present.  A GGUF file's
 *  tokenizer is built from its tokenizer.ggml.* metadata as transformers
 *  builds it (gpt2 and llama tokenizer models). */
LFTF_API int lftf_tokenizer_load(lftf_tokenizer **out, const char *path,
                                 const lftf_tokenizer_params *params);
LFTF_API void lftf_tokenizer_free(lftf_tokenizer *tok);

/** Encodes `len` bytes of UTF-8 `text` (len may be (size_t)-1 for a
 *  NUL-terminated string).  Added/special tokens in the text are matched
 *  before normalization; add_special != 0 applies the post-processor (BOS).
 *  Invalid UTF-8 fails with LFTF_E_ENCODING and a message giving the byte
 *  offset.  *ids is owned by the caller (lftf_free). */
LFTF_API int lftf_tokenizer_encode(const lftf_tokenizer *tok, const char *text, size_t len,
                                   int add_special, int32_t **ids, size_t *n_ids);
/** Decodes ids to UTF-8 text (caller frees *text with lftf_free).
 *  skip_special != 0 omits special tokens. */
LFTF_API int lftf_tokenizer_decode(const lftf_tokenizer *tok, const int32_t *ids, size_t n_ids,
                                   int skip_special, char **text);
/** The vocabulary string of a token id (borrowed), or NULL if out of range. */
LFTF_API const char *lftf_tokenizer_token(const lftf_tokenizer *tok, int32_t id);
/** The id of a vocabulary string, or -1. */
LFTF_API int32_t lftf_tokenizer_token_id(const lftf_tokenizer *tok, const char *token);
/** Vocabulary size including added tokens (max id + 1). */
LFTF_API size_t lftf_tokenizer_vocab_size(const lftf_tokenizer *tok);
/** BOS id the tokenizer adds, or -1 if it adds none. */
LFTF_API int32_t lftf_tokenizer_bos_id(const lftf_tokenizer *tok);

/* ------------------------------------------------------------------ */
/* Models (Hugging Face directories: LlamaForCausalLM, Qwen2ForCausalLM) */
/* ------------------------------------------------------------------ */

typedef struct lftf_model lftf_model;

typedef enum lftf_dtype {
    LFTF_DTYPE_DEFAULT = 0, /* float32 on CPU, bfloat16 on CUDA */
    LFTF_DTYPE_F32 = 1,
    LFTF_DTYPE_F16 = 2,
    LFTF_DTYPE_BF16 = 3
} lftf_dtype;

/** "float32", "float16", "bfloat16" (or "default"); NULL for an unknown value. */
LFTF_API const char *lftf_dtype_name(lftf_dtype dtype);
/** Parses "float32"/"f32"/"fp32", "float16"/"f16"/"fp16", "bfloat16"/"bf16". */
LFTF_API int lftf_dtype_parse(const char *name, lftf_dtype *out);

typedef struct lftf_model_params {
    size_t struct_size;
    const char *device;          /* "cpu" (default), "cuda", "cuda:N" */
    lftf_dtype dtype;            /* compute dtype; LFTF_DTYPE_DEFAULT */
    int add_bos;                 /* as lftf_tokenizer_params.add_bos; -1 default */
    lftf_progress_fn progress;   /* stage "load": tensors loaded / total */
    void *progress_user;
    /* Memory budgets (0: no budget, every weight resident in the compute
     * dtype, as before).  With a host budget, liblftf keeps resident the
     * weights that fit (the embedding, final norm and head, then the last
     * blocks) and streams the other blocks: their weights are converted from
     * the memory-mapped files just while they run, then released, and work
     * flows through the model one block at a time.  A budget smaller than the
     * fixed weights plus one block fails with LFTF_E_RANGE at load, before any
     * work.  max_device_memory does the same for a CUDA device. */
    size_t max_memory;           /* host bytes */
    size_t max_device_memory;    /* device bytes (CUDA) */
} lftf_model_params;

LFTF_API int lftf_model_params_init(lftf_model_params *params);
/** Loads config.json, the safetensors weights (single or sharded) and the
 *  tokenizer of a Hugging Face model directory, or a GGUF file (llama.cpp:
 *  architectures llama, qwen2, qwen3, gemma2, gemma3, phi3; tensors F32, F16,
 *  BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, dequantized as ggml does
 *  while they are converted to the compute dtype; see docs/gguf.md). */
LFTF_API int lftf_model_load(lftf_model **out, const char *dir, const lftf_model_params *params);
LFTF_API void lftf_model_free(lftf_model *model);

typedef struct lftf_model_info {
    size_t struct_size;
    const char *architecture;   /* as config.json names it (borrowed): "LlamaForCausalLM",
                                   "MistralForCausalLM", "Qwen2ForCausalLM",
                                   "Qwen3ForCausalLM", "Gemma2ForCausalLM",
                                   "Gemma3ForCausalLM" or "Phi3ForCausalLM" */
    const char *path;           /* directory it was loaded from (borrowed) */
    const char *device;         /* canonical device string (borrowed) */
    lftf_dtype dtype;           /* compute dtype */
    lftf_dtype weight_dtype;    /* dtype of the weights on disk */
    int n_layers, hidden_size, intermediate_size;
    int n_heads, n_kv_heads, head_dim;
    int vocab_size, max_position_embeddings;
    double rms_norm_eps, rope_theta;
    int tie_word_embeddings, attention_bias, mlp_bias;
    int bos_token_id, eos_token_id;
    int64_t n_params;
} lftf_model_info;

/** Fills *info (set info->struct_size = sizeof *info first). */
LFTF_API int lftf_model_get_info(const lftf_model *model, lftf_model_info *info);
/** The architecture and config as a JSON object (caller frees with lftf_free). */
LFTF_API int lftf_model_info_json(const lftf_model *model, char **json);
/** How the weights are held (see lftf_model_params.max_memory). */
typedef struct lftf_memory_info {
    size_t struct_size;
    int streaming;               /* 1 if some blocks are streamed */
    int n_resident_blocks;       /* blocks whose weights stay in memory */
    int n_streamed_blocks;       /* blocks converted from the files while they run */
    size_t fixed_bytes;          /* embedding, final norm and head (compute dtype) */
    size_t resident_bytes;       /* all weights kept in memory now (compute dtype) */
    size_t max_block_bytes;      /* the largest block (compute dtype) */
    size_t budget;               /* max_memory or max_device_memory in force; 0: none */
    size_t peak_rss;             /* this process's peak resident set so far (bytes) */
} lftf_memory_info;

/** Fills *info (set info->struct_size = sizeof *info first). */
LFTF_API int lftf_model_memory_info(const lftf_model *model, lftf_memory_info *info);
/** The configuration and weight headers of a model directory as the JSON of
 *  lftf_model_info_json, without loading a weight (config.json, the
 *  safetensors headers and the tokenizer only: fast for any model size);
 *  params (may be NULL) give the device and dtype it reports (the device is
 *  checked, nothing is placed on it).  Free with lftf_free. */
LFTF_API int lftf_model_inspect_json(const char *dir, const lftf_model_params *params, char **json);
/** Parses a size such as "1.5G", "512M", "2048K", "1T" or plain bytes
 *  (binary units: 1G = 2^30). */
LFTF_API int lftf_parse_size(const char *text, size_t *out);

/** The model's tokenizer (borrowed; lives as long as the model). */
LFTF_API const lftf_tokenizer *lftf_model_tokenizer(const lftf_model *model);

typedef struct lftf_probs_params {
    size_t struct_size;
    size_t batch_size;           /* prompts per forward pass; default 32 */
    lftf_progress_fn progress;   /* stage "probs": prompts done / total */
    void *progress_user;
    /* Sharding: with shard_count > 1 only the batches k of the run's batch
     * plan (prompts sorted by length, cut into batch_size) with
     * k % shard_count == shard_index are computed; the other prompts' outputs
     * are NaN (argmax -1).  Each prompt is computed in the same batch as in
     * the unsharded run, so its numbers are identical. */
    size_t shard_index, shard_count;
    /* BOS before every prompt: -1 (default) as the tokenizer's files say;
     * 0 never (DAMA's protocol); 1 always (the tokenizer's BOS token). */
    int add_bos;
} lftf_probs_params;

LFTF_API int lftf_probs_params_init(lftf_probs_params *params);

/** Next-token probabilities of target words after prompts.  A target's
 *  tokens are those that encoding prompt+target adds after the prompt's
 *  tokens (in context); a multi-token target gets the chain-rule probability.
 *  Outputs are row-major [n_prompts][n_targets]; logprobs and argmax (the most
 *  likely next token id after each prompt, [n_prompts]) may be NULL.
 *  Fails with LFTF_E_EMPTY if a target adds no tokens. */
LFTF_API int lftf_model_target_probs(lftf_model *model,
                                     const char *const *prompts, size_t n_prompts,
                                     const char *const *targets, size_t n_targets,
                                     const lftf_probs_params *params,
                                     double *probs, double *logprobs, int32_t *argmax);

/** Token ids of a prompt (BOS as configured) and of a target in its context
 *  (both owned by the caller, lftf_free). */
LFTF_API int lftf_model_encode_target(const lftf_model *model, const char *prompt,
                                      const char *target,
                                      int32_t **prompt_ids, size_t *n_prompt,
                                      int32_t **target_ids, size_t *n_target);

/** Log-probabilities over the whole vocabulary of the next token after one
 *  prompt: logprobs has room for vocab_size floats. */
LFTF_API int lftf_model_next_logprobs(lftf_model *model, const char *prompt, float *logprobs,
                                      size_t vocab_size);

/** What a model is saved as: a Hugging Face directory (config.json,
 *  tokenizer.json, safetensors) or one GGUF file (llama.cpp, Ollama). */
typedef enum lftf_save_format {
    LFTF_SAVE_HF = 0,
    LFTF_SAVE_GGUF = 1
} lftf_save_format;

/** The type of the tensors written into a GGUF file (ggml's numbering).
 *  SAME keeps each tensor's source type (see lftf_model_save). */
typedef enum lftf_gguf_type {
    LFTF_GGUF_TYPE_SAME = -1,
    LFTF_GGUF_TYPE_F32 = 0,
    LFTF_GGUF_TYPE_F16 = 1,
    LFTF_GGUF_TYPE_Q4_0 = 2,
    LFTF_GGUF_TYPE_Q4_1 = 3,
    LFTF_GGUF_TYPE_Q5_0 = 6,
    LFTF_GGUF_TYPE_Q5_1 = 7,
    LFTF_GGUF_TYPE_Q8_0 = 8,
    LFTF_GGUF_TYPE_BF16 = 30
} lftf_gguf_type;

/** Parses "same", "f32", "f16", "bf16", "q8_0", "q4_1", "q4_0", "q5_0",
 *  "q5_1" (LFTF_E_INVALID_ARG naming anything else). */
LFTF_API int lftf_gguf_type_parse(const char *name, lftf_gguf_type *out);

typedef struct lftf_save_params {
    size_t struct_size;
    int overwrite;               /* allow a non-empty output directory (replaced atomically) */
    int delta;                   /* write only tensors that differ from the source */
    lftf_progress_fn progress;   /* stage "save" */
    void *progress_user;
    /* since GGUF saving: */
    lftf_save_format format;     /* LFTF_SAVE_HF (default) or LFTF_SAVE_GGUF (out is a file) */
    lftf_gguf_type gguf_type;    /* type of the changed tensors; default LFTF_GGUF_TYPE_SAME */
} lftf_save_params;

LFTF_API int lftf_save_params_init(lftf_save_params *params);
/** Writes the model as a Hugging Face directory (config, tokenizer files,
 *  safetensors in the source dtype, sharded like the source).  Tensors the
 *  model has not changed are copied byte for byte.  Written into a temporary
 *  directory beside out_dir and renamed at the end; refuses the source
 *  directory itself (LFTF_E_EXISTS). */
LFTF_API int lftf_model_save(lftf_model *model, const char *out_dir, const lftf_save_params *params);
/*  With format LFTF_SAVE_GGUF, out_dir names a .gguf file, written
 *  atomically (temporary file + fsync + rename): from a GGUF source, every
 *  metadata key and every untouched tensor is copied byte for byte and the
 *  changed tensors are written in gguf_type (SAME: the source tensor's type;
 *  the K-quants, which have no exact quantizer here, become Q8_0 with a
 *  warning); from an HF source, the file is laid out as llama.cpp's
 *  convert_hf_to_gguf.py writes it (see lftf_convert).  delta is refused
 *  with GGUF (LFTF_E_INVALID_ARG). */
/** Applies a delta directory (written with params.delta) to its base model
 *  directory, writing a full model directory to out_dir. */
LFTF_API int lftf_delta_apply(const char *base_dir, const char *delta_dir, const char *out_dir,
                              const lftf_save_params *params);

/* ---- converting between Hugging Face directories and GGUF files ---- */

typedef struct lftf_convert_params {
    size_t struct_size;
    lftf_save_format to;         /* LFTF_SAVE_GGUF or LFTF_SAVE_HF */
    lftf_gguf_type gguf_type;    /* to GGUF: type of the matrices (1-D weights stay F32);
                                    default LFTF_GGUF_TYPE_SAME (the source dtype) */
    lftf_dtype hf_dtype;         /* to HF: F32 (default), F16 or BF16 */
    int overwrite;               /* replace an existing output */
    lftf_progress_fn progress;   /* stage "save", per tensor */
    void *progress_user;
} lftf_convert_params;

LFTF_API int lftf_convert_params_init(lftf_convert_params *params);
/** Converts a model without loading it into the library's compute:
 *  - HF directory -> GGUF file, laid out as llama.cpp's convert_hf_to_gguf.py
 *    does (tensor names, q/k rows interleaved for llama's RoPE, {arch}.*
 *    hyperparameters, tokenizer.ggml.* from tokenizer.json and
 *    tokenizer_config.json, chat template); llama, qwen2 and qwen3.
 *  - GGUF file -> HF directory (config.json, tokenizer.json,
 *    tokenizer_config.json, model.safetensors dequantized to hf_dtype).
 *  Atomic like lftf_model_save; refuses out == in (LFTF_E_EXISTS). */
LFTF_API int lftf_convert(const char *in, const char *out, const lftf_convert_params *params);

/* ---- log-likelihood, rolling perplexity, generation ---- */
/* lm-evaluation-harness semantics: lib/model/loglikelihood.c, generate.c. */

typedef struct lftf_ll_params {
    size_t struct_size;
    int add_bos;                 /* -1: as the model's tokenizer files say (harness >= 0.4.10,
                                    default); 0: no BOS (older harness default) */
    size_t batch_size;           /* sequences per forward pass; default 16 */
    size_t max_length;           /* 0: the model's max_position_embeddings */
    lftf_progress_fn progress;   /* stage "loglikelihood" / "rolling": requests done / total */
    void *progress_user;
    /* Sharding: with shard_count > 1 only the work units u of the engine's
     * batch plan (requests grouped by context, longest context first; per
     * batch one unit for its contexts and one-token continuations, then one
     * per batch_size longer continuations) with u % shard_count ==
     * shard_index are computed, so each request meets the same batch
     * companions as in the unsharded run and its numbers are identical.  The other requests are marked as another shard's: ll NaN,
     * n_tokens 0, is_greedy 0, truncated 0.  Rolling: windows are sharded;
     * a text with a window of another shard gets ll NaN. */
    size_t shard_index, shard_count;
} lftf_ll_params;

LFTF_API int lftf_ll_params_init(lftf_ll_params *params);

typedef struct lftf_ll_result {
    double ll;                   /* summed log-probability of the continuation tokens */
    size_t n_tokens;             /* continuation tokens */
    int is_greedy;               /* every continuation token was the argmax */
    int truncated;               /* left-truncated to max_length as the harness does */
} lftf_ll_result;

/** Log-likelihood of continuations after contexts, as the harness computes
 *  it: trailing whitespace of a context moves to its continuation; the
 *  continuation's tokens are those enc(context + continuation) adds after
 *  enc(context).  contexts[i] may be "" (then BOS, or EOS without BOS, is
 *  the context).  Requests sharing a context share its forward pass.  An
 *  empty continuation fails with LFTF_E_EMPTY naming the request.  results
 *  has room for n. */
LFTF_API int lftf_model_loglikelihood(lftf_model *model, const char *const *contexts,
                                      const char *const *continuations, size_t n,
                                      const lftf_ll_params *params, lftf_ll_result *results);

/** The output of `lftf loglikelihood` for results[0..n-1] of a
 *  lftf_model_loglikelihood call with these requests and params: one JSON
 *  line {"ll", "n_tokens", "is_greedy", "truncated"} per request, in order;
 *  with params->shard_count > 1 the shard's report instead,
 *  {"shard": {"kind": "loglikelihood", "index", "count", "n_total",
 *  "batch_size", "data", "weights"}, "rows": [{"index", "ll", "n_tokens",
 *  "is_greedy", "truncated"}]} (this shard's requests), which
 *  lftf_merge_shards_json turns back into the unsharded lines byte for byte.
 *  model is only read for its weights' fingerprint (shards).  Free with
 *  lftf_free. */
LFTF_API int lftf_ll_results_json(const lftf_model *model, const char *const *contexts,
                                  const char *const *continuations, size_t n,
                                  const lftf_ll_params *params, const lftf_ll_result *results,
                                  char **text);

/** Reads a JSONL file of requests, one {"context": str, "continuation": str}
 *  object per line (blank lines skipped); errors name the file and line (an
 *  empty continuation is LFTF_E_EMPTY).  Free with lftf_ll_requests_free. */
LFTF_API int lftf_ll_requests_load(const char *path, char ***contexts, char ***continuations,
                                   size_t *n);
LFTF_API void lftf_ll_requests_free(char **contexts, char **continuations, size_t n);

typedef struct lftf_rolling_result {
    double ll;                   /* summed log-likelihood of every token of the text */
    size_t tokens, words, bytes, windows;
} lftf_rolling_result;

/** Rolling log-likelihood of whole texts (perplexity): disjoint windows of
 *  max_length tokens (lm_eval.utils.get_rolling_token_windows with context
 *  length 1 + make_disjoint_window; the first window's context is BOS, or EOS
 *  without BOS).  words = whitespace-separated words, bytes = UTF-8 bytes;
 *  word_perplexity = exp(-ll/words), byte_perplexity = exp(-ll/bytes),
 *  bits_per_byte = -ll/bytes/ln 2. */
LFTF_API int lftf_model_loglikelihood_rolling(lftf_model *model, const char *const *texts, size_t n,
                                              const lftf_ll_params *params,
                                              lftf_rolling_result *results);

typedef struct lftf_generate_params {
    size_t struct_size;
    size_t max_new_tokens;       /* default 32 */
    const char *const *stop;     /* stop strings (the text is cut before the first one) */
    size_t n_stop;
    size_t batch_size;           /* default 16 */
    lftf_progress_fn progress;   /* stage "generate": prompts done / total */
    void *progress_user;
    int left_truncate;           /* non-zero: a prompt longer than max_position_embeddings -
                                    max_new_tokens tokens keeps its last ones (as the harness's
                                    generate_until); 0 (default): such a prompt is an error */
} lftf_generate_params;

LFTF_API int lftf_generate_params_init(lftf_generate_params *params);

/** Greedy decoding with a key/value cache, batched over prompts (encoded with
 *  BOS as the model was loaded).  Stops at EOS, a stop string or
 *  max_new_tokens.  texts[i] (the continuation only, cut before the first stop
 *  string) and ids[i] (the generated ids) are allocated by the library (free
 *  with lftf_free); n_ids[i] their count. */
LFTF_API int lftf_model_generate(lftf_model *model, const char *const *prompts, size_t n,
                                 const lftf_generate_params *params,
                                 char **texts, int32_t **ids, size_t *n_ids);
/* ---- end log-likelihood, rolling perplexity, generation ---- */

/* ---- general-ability benchmarks: MMLU, multiple choice, perplexity ---- */
/* lm-evaluation-harness semantics (lib/eval/general.c), scored through
 * lftf_model_loglikelihood / lftf_model_loglikelihood_rolling. */

typedef struct lftf_general_report lftf_general_report;

typedef struct lftf_general_params {
    size_t struct_size;
    int shots;                   /* MMLU: dev examples per prompt (first K in file order);
                                    default 5 */
    const char *const *subjects; /* MMLU subjects (e.g. "anatomy"); NULL: every
                                    DIR/test/<subject>_test.csv, sorted by name */
    size_t n_subjects;
    size_t limit;                /* MMLU: first N test questions of each subject; mc: first N
                                    records; 0: all */
    size_t max_length;           /* context window in tokens; 0: the model's max positions */
    int add_bos;                 /* as lftf_ll_params.add_bos (-1: the tokenizer's files) */
    size_t batch_size;           /* sequences per forward pass; 0: the engine's default */
    lftf_progress_fn progress;   /* stage "loglikelihood" / "rolling": requests done / total */
    void *progress_user;
    /* Sharding (lftf_ll_params): with shard_count > 1 the report is the
     * shard's, {"task", "shard": {"kind": "general", "task", ...}, "plan",
     * "rows"}: what lftf_merge_shards_json needs to rebuild the unsharded
     * report exactly (lftf_general_report_value is then NaN). */
    size_t shard_index, shard_count;
} lftf_general_params;

LFTF_API int lftf_general_params_init(lftf_general_params *params);

/** MMLU in its original CSV release layout (data_dir/dev, data_dir/test,
 *  headerless CSV: question, A, B, C, D, answer) with the harness's `mmlu`
 *  prompt: "The following are multiple choice questions (with answers) about
 *  {subject}.\n\n", the first `shots` dev examples ("...\nAnswer: X\n\n"),
 *  the test question ending in "Answer:"; choices " A".." D" scored by summed
 *  log-likelihood (prompts longer than the context are left-truncated).
 *  Report: {"task": "mmlu", "acc", "n", "shots", "subjects": {name: {"acc",
 *  "n"}}, "categories": {"stem"|"humanities"|"social_sciences"|"other":
 *  {"acc", "n"}}, "samples": [{"task", "subject", "index", "ll": [4], "gold",
 *  "pred"}]}; accuracies are micro (over questions).  Errors name the file
 *  and line (malformed row, answer not A-D), an unknown subject, or a missing
 *  dev/ when shots > 0. */
LFTF_API int lftf_general_mmlu(lftf_model *model, const char *data_dir,
                               const lftf_general_params *params, lftf_general_report **out);
/** A multiple-choice or continuation JSONL file, one layout per file:
 *  {"query", "choices", "gold"}: each choice scored as " " + choice after the
 *  query; {"context_options", "continuation", "gold"}: " " + continuation
 *  scored after each context (WinoGrande); {"context", "continuation"}:
 *  " " + continuation after the context (LAMBADA: acc = the continuation is
 *  the greedy one, "perplexity" = exp(-mean ll)).  acc = argmax ll == gold;
 *  acc_norm = argmax ll / characters of the choice (the harness's "choices":
 *  the context options in the WinoGrande layout; null for LAMBADA).
 *  Report: {"task": "mc", "acc", "acc_norm", "n", ["perplexity",] "samples":
 *  [{"index", "ll": [...], "gold", "pred"}]} (LAMBADA samples: gold and pred
 *  null, plus "is_greedy"). */
LFTF_API int lftf_general_mc(lftf_model *model, const char *jsonl_path,
                             const lftf_general_params *params, lftf_general_report **out);
/** Rolling log-likelihood of a whole UTF-8 text file (NULL: the short
 *  held-out English text shipped in data/heldout_english.txt).  Report:
 *  {"task": "ppl", "ll", "tokens", "words", "bytes", "windows",
 *  "word_perplexity", "byte_perplexity", "bits_per_byte"}.  An empty file is
 *  LFTF_E_EMPTY. */
LFTF_API int lftf_general_ppl(lftf_model *model, const char *text_path,
                              const lftf_general_params *params, lftf_general_report **out);
/** The (context, continuation) requests a task would score, without a
 *  model: JSON lines {"context", "continuation"} (the `lftf loglikelihood
 *  --requests` format), MMLU in subject, question, choice order; task is
 *  "mmlu" (path = the data directory) or "mc" (path = the JSONL file).
 *  *jsonl is owned by the caller (lftf_free). */
LFTF_API int lftf_general_requests(const char *task, const char *path,
                                   const lftf_general_params *params, char **jsonl);
LFTF_API void lftf_general_report_free(lftf_general_report *report);
/** "mmlu", "mc" or "ppl" (borrowed). */
LFTF_API const char *lftf_general_report_task(const lftf_general_report *report);
/** A top-level number of the report ("acc", "acc_norm", "n", "perplexity",
 *  "word_perplexity", ...); NaN if absent or null. */
LFTF_API double lftf_general_report_value(const lftf_general_report *report, const char *key);
/** The report as JSON (caller frees with lftf_free). */
LFTF_API int lftf_general_report_to_json(const lftf_general_report *report, char **json);
/** Writes the JSON atomically (temporary file beside `path`, then rename). */
LFTF_API int lftf_general_report_write_json(const lftf_general_report *report, const char *path);
/* ---- end general-ability benchmarks ---- */

/* ------------------------------------------------------------------ */
/* Datasets (GenBiasEval, GenHintEval, or a user's JSONL)              */
/* ------------------------------------------------------------------ */

typedef struct lftf_dataset lftf_dataset;

/** One record (all pointers borrowed from the dataset; absent fields are
 *  NULL, absent scores NaN). */
typedef struct lftf_sample {
    const char *id;
    const char *prompt;
    const char *profession;
    const char *template_;      /* "template" in the JSONL */
    const char *scale;          /* "word" / "phrase" / "sentence" (GenBiasEval) */
    const char *split;          /* "train" / "dev" / "test" */
    const char *hint;           /* "male" / "female" (GenHintEval) */
    double definitional;
    double stereotypical;
} lftf_sample;

/** Loads a JSONL file: one JSON object per line (empty lines are skipped).
 *  Every record needs a non-empty string "id" (unique in the file) and
 *  "prompt"; "profession", "template", "split" are optional strings,
 *  "definitional"/"stereotypical" optional numbers; "scale" must be
 *  word/phrase/sentence and "hint" male/female when present, and a record has
 *  at most one of them.  Unknown fields are ignored.  Errors name the file and
 *  line: LFTF_E_FORMAT (malformed JSON, wrong type, unknown value, duplicate
 *  id), LFTF_E_NOT_FOUND (missing field), LFTF_E_ENCODING (invalid UTF-8),
 *  LFTF_E_EMPTY (no records). */
LFTF_API int lftf_dataset_load(lftf_dataset **out, const char *jsonl_path);
/** Loads a shipped dataset by name ("genbiaseval" or "genhinteval") from
 *  data_dir, or (data_dir == NULL) from $LFTF_DATA_DIR, else the installed
 *  data directory if it has the file, else the source tree's data/.
 *  LFTF_E_NOT_FOUND for another name or when the file is in none of them. */
LFTF_API int lftf_dataset_load_builtin(lftf_dataset **out, const char *name, const char *data_dir);
/** The path of a shipped data file such as "heldout_english.txt", looked up
 *  as lftf_dataset_load_builtin does; *path is owned by the caller
 *  (lftf_free).  LFTF_E_NOT_FOUND names where it looked. */
LFTF_API int lftf_data_path(const char *file, const char *data_dir, char **path);
LFTF_API void lftf_dataset_free(lftf_dataset *ds);
LFTF_API size_t lftf_dataset_size(const lftf_dataset *ds);

/** Kinds of records: bias records (GenBiasEval-style, no "hint") are scored
 *  with AFGB, hint records (GenHintEval-style) with UB. */
enum {
    LFTF_KIND_BIAS = 1,
    LFTF_KIND_HINT = 2
};
/** The kinds of records `ds` holds (LFTF_KIND_* bits; both for a mixed file). */
LFTF_API unsigned lftf_dataset_kinds(const lftf_dataset *ds);
/** Record `index` (LFTF_E_RANGE past the end). */
LFTF_API int lftf_dataset_get(const lftf_dataset *ds, size_t index, lftf_sample *out);
/** A new dataset with the records matching every non-NULL field (split,
 *  scale, hint), in the same order.  LFTF_E_EMPTY if nothing matches;
 *  LFTF_E_INVALID_ARG for a scale or hint value the loader would reject. */
LFTF_API int lftf_dataset_select(lftf_dataset **out, const lftf_dataset *ds, const char *split,
                                 const char *scale, const char *hint);
/** A new dataset of n records drawn without replacement with a seed
 *  (n >= size gives a shuffled copy; n == 0 is LFTF_E_EMPTY).  The draw is a
 *  splitmix64 Fisher-Yates shuffle (data/README.md), the same on every
 *  platform. */
LFTF_API int lftf_dataset_sample(lftf_dataset **out, const lftf_dataset *ds, size_t n,
                                 uint64_t seed);
/** Regenerates the shipped data files (genbiaseval.jsonl, genhinteval.jsonl,
 *  professions.jsonl) from the Bolukbasi professions list (a JSON list of
 *  [word, definitional, stereotypical]) into out_dir (created if missing;
 *  each file written atomically).  Byte-for-byte deterministic; the filter,
 *  templates, split and hint assignment are described in data/README.md. */
LFTF_API int lftf_build_data(const char *professions_json, const char *out_dir);

/* ------------------------------------------------------------------ */
/* Metrics and evaluation reports                                      */
/* ------------------------------------------------------------------ */

/** AFGB-Score over n prompts of k group probabilities (row-major [n][k]):
 *  the mean over prompts of max_j p_j - min_j p_j, which for the two groups
 *  {" he", " she"} is the paper's |P(he) - P(she)|.  In [0, 1]; lower is
 *  fairer.  NaN if n == 0, k < 2 or a probability is NaN.  The probabilities
 *  are raw full-vocabulary next-token probabilities (not renormalised over
 *  the groups). */
LFTF_API double lftf_metric_afgb(const double *probs, size_t n, size_t k);
/** UB-Score over n hinted prompts: mean of F_i * (p_male[i] - p_female[i]),
 *  F_i = +1 for a male hint (sign[i] > 0), -1 for a female one (sign[i] < 0).
 *  In [-1, 1]; higher follows the hints better.  NaN if n == 0.  With more
 *  than two targets, reports use targets 0 and 1 as male and female. */
LFTF_API double lftf_metric_ub(const double *p_male, const double *p_female, const int *sign,
                               size_t n);

typedef struct lftf_report lftf_report;

typedef struct lftf_eval_params {
    size_t struct_size;
    /** Target words, at least two, distinct and non-empty; default
     *  {" he", " she"}: targets[0] male, [1] female (UB uses these two).  Other
     *  social biases: one word per group (AFGB = mean of max - min). */
    const char *const *targets;
    size_t n_targets;
    size_t batch_size;           /* prompts per forward pass; default 32 */
    const char *prefix;          /* text prepended to every prompt (prompt-based baseline);
                                    reports keep the prompts without it */
    lftf_progress_fn progress;   /* stage "eval": prompts done / total */
    void *progress_user;
    /* Sharding (see lftf_probs_params): the report holds this shard's rows
     * and what lftf_merge_shards_json needs to rebuild the unsharded report
     * exactly.  shard_count 0 or 1: no sharding. */
    size_t shard_index, shard_count;
} lftf_eval_params;

LFTF_API int lftf_eval_params_init(lftf_eval_params *params);
/** Evaluates the model on GenBiasEval-style (bias) and GenHintEval-style
 *  (hint) datasets; either may be NULL, not both, and they may be the same
 *  (mixed) dataset, evaluated once.  Each record is classified by its own
 *  fields: with "hint" it is a hint sample (UB), otherwise a bias sample
 *  (AFGB, by "scale" when it has one).  Probabilities come from
 *  lftf_model_target_probs on prefix + prompt, all prompts in one call
 *  (batched by length).  Fails with LFTF_E_EMPTY if a target adds no tokens,
 *  LFTF_E_NUMERIC if a probability is not finite, LFTF_E_ABORTED if the
 *  progress callback asks to stop (no report then). */
LFTF_API int lftf_evaluate(lftf_model *model, const lftf_dataset *bias, const lftf_dataset *hint,
                           const lftf_eval_params *params, lftf_report **out);
LFTF_API void lftf_report_free(lftf_report *report);
/** AFGB for scale "word"/"phrase"/"sentence", or "avg"/NULL for all bias
 *  samples: the mean over all of them, i.e. the count-weighted mean of the
 *  scale means (not their plain mean).  LFTF_E_EMPTY if no such samples,
 *  LFTF_E_INVALID_ARG for another scale name. */
LFTF_API int lftf_report_afgb(const lftf_report *report, const char *scale, double *out);
/** UB-Score over the hint samples.  LFTF_E_EMPTY if none. */
LFTF_API int lftf_report_ub(const lftf_report *report, double *out);
/** Number of bias samples of a scale ("avg"/NULL: all bias samples); 0 for
 *  an unknown scale. */
LFTF_API size_t lftf_report_n_bias(const lftf_report *report, const char *scale);
/** Number of hint samples. */
LFTF_API size_t lftf_report_n_hint(const lftf_report *report);
/** The "split" shared by every bias sample, "all" if they differ, NULL if
 *  they have none (borrowed). */
LFTF_API const char *lftf_report_split(const lftf_report *report);
/** All samples: the bias samples first, then the hint samples, each in
 *  dataset order. */
LFTF_API size_t lftf_report_n_samples(const lftf_report *report);
LFTF_API size_t lftf_report_n_targets(const lftf_report *report);
/** Target word j (borrowed). */
LFTF_API const char *lftf_report_target(const lftf_report *report, size_t j);

typedef struct lftf_report_sample {
    const char *id;
    const char *dataset;        /* "genbiaseval" (bias samples) or "genhinteval" (hint) */
    const char *prompt;         /* without the eval prefix */
    const char *profession;     /* NULL if the record had none */
    const char *scale;          /* bias samples (NULL if the record had none), else NULL */
    const char *hint;           /* hint samples, else NULL */
    const double *probs;        /* [n_targets]: P(target j | prefix + prompt) */
} lftf_report_sample;

LFTF_API int lftf_report_sample_get(const lftf_report *report, size_t index,
                                    lftf_report_sample *out);

/** The bias samples of one profession, aggregated (for finding the most
 *  biased professions, as in the paper's case study). */
typedef struct lftf_report_profession {
    const char *profession;
    size_t n;                   /* bias samples of this profession */
    double afgb;                /* mean of max - min over them */
    double bias;                /* mean of P(t0) - P(t1): > 0 leans to targets[0] (" he") */
    const double *mean_probs;   /* [n_targets] mean probability of each target */
} lftf_report_profession;

/** Number of professions among the bias samples (samples without a
 *  profession are not aggregated). */
LFTF_API size_t lftf_report_n_professions(const lftf_report *report);
/** Profession `index` in order of decreasing AFGB (ties by name). */
LFTF_API int lftf_report_profession_get(const lftf_report *report, size_t index,
                                        lftf_report_profession *out);
/** The report as JSON (the `lftf eval --out` format); model_name may be NULL:
 *  {"model", "targets", "genbiaseval": {"split", "n", "n_by_scale",
 *  "afgb": {"word", "phrase", "sentence", "avg"}} (null without bias
 *  samples), "genhinteval": {"n", "ub"} (null without hint samples),
 *  "samples": [{"id", "dataset", "prompt", "profession", "scale" | "hint",
 *  "p_he", "p_she"}], "professions": [{"profession", "n", "afgb", "p_he",
 *  "p_she", "bias"}]}.  p_he/p_she are targets 0 and 1 whatever the words;
 *  with more than two targets each sample and profession also has "probs"
 *  (all targets); a "prefix" key is present when one was used.  Numbers
 *  are shortest round-trip decimals; a metric without samples is null. */
LFTF_API int lftf_report_to_json(const lftf_report *report, const char *model_name, char **json);
/** Writes lftf_report_to_json atomically (temporary file beside `path`, then
 *  rename): on failure `path` is left as it was. */
LFTF_API int lftf_report_write_json(const lftf_report *report, const char *model_name,
                                    const char *path);

/* ------------------------------------------------------------------ */
/* Locating: block-wise bias-relevant metric (BMI)                     */
/* ------------------------------------------------------------------ */

typedef struct lftf_locate_result lftf_locate_result;

typedef struct lftf_locate_params {
    size_t struct_size;
    int final_norm;              /* last block's output after the final RMSNorm */
    size_t batch_size;           /* prompts per forward pass; default 32 */
    lftf_progress_fn progress;   /* stage "locate" */
    void *progress_user;
    /* Sharding: only the batches k (consecutive prompts, batch_size each)
     * with k % shard_count == shard_index; the result then keeps each batch's
     * sums so that lftf_merge_shards_json adds them in the unsharded order. */
    size_t shard_index, shard_count;
} lftf_locate_params;

LFTF_API int lftf_locate_params_init(lftf_locate_params *params);
/** Combines the JSON reports of the shards of one run (shard_index 0..n-1
 *  of n, in any order) into exactly the bytes of the unsharded run's output:
 *  `lftf eval` (lftf_report_to_json) and `lftf locate` (lftf_locate_to_json):
 *  rows in their original order, metrics recomputed from the rows, BMI from
 *  the per-batch sums and token counts; `lftf loglikelihood`
 *  (lftf_ll_results_json): the JSON lines; general tasks
 *  (lftf_general_report_to_json) and bias suites (the file
 *  lftf_bias_report_write_json writes): every metric recomputed from the
 *  per-request results by the function that builds the unsharded report.
 *  Refuses shards of different kinds, tasks, models, settings or data,
 *  missing or repeated shards (LFTF_E_FORMAT naming the shard and what
 *  differs).  Free with lftf_free. */
LFTF_API int lftf_merge_shards_json(const char *const *shard_jsons, size_t n, char **merged_json);

/** A command of the lftf program run inside this process: what a cluster
 *  worker calls to compute one shard through the library, with no shell and
 *  no new process (lftf.distributed, lftf-ray).  args are the command and its
 *  arguments as they follow `lftf` on a command line, e.g. {"eval",
 *  "--model", "m", "--shard", "1/4", "--out", "/tmp/r.json"}; the commands
 *  are eval, locate, loglikelihood, general, bias, merge, finetune and run,
 *  with exactly the options and output files of the program.  The command
 *  prints what the program prints (stdout, stderr) and leaves the process's
 *  signal handlers alone. */
typedef struct lftf_command_params {
    size_t struct_size;
    const char *const *args;    /* args[0] the command; n_args >= 1 */
    size_t n_args;
    /* NULL, or the file the command writes its report to (the --out in args,
     * merge's OUT): read into *report (free with lftf_free), then removed. */
    const char *report_path;
} lftf_command_params;

LFTF_API int lftf_command_params_init(lftf_command_params *params);
/** LFTF_OK when the command succeeded.  Otherwise the status of the call
 *  that failed (LFTF_E_INVALID_ARG for a usage error) with the message the
 *  program prints, e.g. "lftf eval: loading model m: ..." in
 *  lftf_last_error; LFTF_E_UNSUPPORTED for another command. */
LFTF_API int lftf_command_run(const lftf_command_params *params, char **report);

/** BMI_i = 1 - cos(H_i[t], H_{i+1}[t]) averaged over every token position of
 *  every prompt in `prompts`. */
LFTF_API int lftf_locate(lftf_model *model, const lftf_dataset *prompts,
                         const lftf_locate_params *params, lftf_locate_result **out);
LFTF_API void lftf_locate_result_free(lftf_locate_result *result);
LFTF_API size_t lftf_locate_n_blocks(const lftf_locate_result *result);
/** [n_blocks] BMI values (borrowed). */
LFTF_API const double *lftf_locate_bmi(const lftf_locate_result *result);
/** [n_blocks] block indices, highest BMI first (borrowed). */
LFTF_API const int *lftf_locate_ranking(const lftf_locate_result *result);
LFTF_API size_t lftf_locate_n_prompts(const lftf_locate_result *result);
LFTF_API size_t lftf_locate_n_tokens(const lftf_locate_result *result);
/** {"bmi": [...], "ranking": [...], "n_prompts": N, "n_tokens": T} */
LFTF_API int lftf_locate_to_json(const lftf_locate_result *result, char **json);
/** The paper's robustness check (appendix A.1): BMI over `n_samples` prompts
 *  drawn from `prompts` (lftf_dataset_sample) with each of the `n_seeds`
 *  seeds.  *bmi gets [n_seeds][*n_blocks] values (caller frees with
 *  lftf_free); *mean_variance gets the mean over blocks of the variance
 *  across seeds (population variance: divisor n_seeds). */
LFTF_API int lftf_locate_robustness(lftf_model *model, const lftf_dataset *prompts,
                                    size_t n_samples, const uint64_t *seeds, size_t n_seeds,
                                    const lftf_locate_params *params, double **bmi,
                                    size_t *n_blocks, double *mean_variance);
/** BMI per block as a standalone SVG bar chart (like the paper's Figure 2);
 *  the `highlight` blocks (e.g. those fine-tuned) are drawn in another
 *  colour.  *svg is owned by the caller (lftf_free). */
LFTF_API int lftf_locate_to_svg(const lftf_locate_result *result, const int *highlight,
                                size_t n_highlight, char **svg);

/* ------------------------------------------------------------------ */
/* Fine-tuning                                                          */
/* ------------------------------------------------------------------ */

typedef struct lftf_trainer lftf_trainer;

typedef enum lftf_method {
    LFTF_METHOD_LFTF = 0,        /* train only the chosen blocks */
    LFTF_METHOD_FPFT = 1         /* full-parameter fine-tuning */
} lftf_method;

enum {
    LFTF_MODULE_ATTN = 1,        /* q, k, v, o projections (+ biases; Phi-3's qkv_proj) */
    LFTF_MODULE_MLP = 2,         /* gate, up, down projections (Phi-3's gate_up_proj) */
    LFTF_MODULE_NORM = 4         /* the block's RMSNorm weights (also Qwen3 / Gemma 3 q/k
                                    norms, Gemma's pre/post feed-forward norms) */
};

typedef enum lftf_objective {
    LFTF_OBJECTIVE_BOTH = 0,     /* -log P(t0) - log P(t1) (- ... for more targets) */
    LFTF_OBJECTIVE_FIRST = 1,    /* -log P(t0) only ("he-only") */
    LFTF_OBJECTIVE_SECOND = 2    /* -log P(t1) only ("she-only") */
} lftf_objective;

typedef enum lftf_lr_schedule {
    LFTF_LR_CONSTANT = 0,        /* the same lr at every step */
    LFTF_LR_LINEAR = 1           /* lr * (1 - t/T) at step t of the fit's T steps
                                    (transformers' default schedule, no warm-up) */
} lftf_lr_schedule;

typedef struct lftf_trainer_params {
    size_t struct_size;
    lftf_method method;
    const int *blocks;           /* blocks to train (LFTF); NULL: the top-k of `ranking` */
    size_t n_blocks;
    const int *ranking;          /* a locate ranking (lftf_locate_ranking) */
    size_t n_ranking;
    size_t topk;                 /* default 1 */
    unsigned modules;            /* LFTF_MODULE_*; default ATTN|MLP */
    lftf_objective objective;
    const char *const *targets;  /* default {" he", " she"} */
    size_t n_targets;
    double lr;                   /* default 1e-5 (the paper's) */
    double beta1, beta2, eps, weight_decay; /* 0.9, 0.999, 1e-8, 0 */
    int epochs;                  /* default 2 */
    size_t batch_size;           /* default 32 */
    uint64_t seed;               /* shuffling; default 0 */
    int cache_prefix;            /* reuse the frozen prefix's residual stream; default 1 */
    size_t eval_batch_size;      /* default 32 */
    lftf_progress_fn progress;   /* stage "train [epoch E/N]": the epoch's steps done / total,
                                    done == total after its dev evaluation */
    void *progress_user;
    const char *preset;          /* name recorded in the settings (see below); NULL: none */
    lftf_lr_schedule lr_schedule; /* default LFTF_LR_CONSTANT */
    /* The retain term (beyond the paper): every step adds
     *   retain_weight * KL(p_original || p_new)
     * over the next-token distributions at every position of one window of
     * retain_text (the windows taken in turn).  The original's distributions
     * are computed once, at lftf_trainer_create, and kept as the top
     * retain_topk ids and log-probs per position plus the remaining mass
     * (about 12 bytes x retain_topk per token; the KL is that of the
     * distributions coarsened to those ids + "the rest", exact when
     * retain_topk covers the vocabulary).  retain_weight 0 with a text still
     * measures the KL after every epoch (history "retain_kl"). */
    const char *retain_text;     /* UTF-8 text (borrowed during create); NULL: no term */
    double retain_weight;        /* lambda >= 0; default 0 */
    size_t retain_topk;          /* default 64; 0: the whole vocabulary */
    size_t retain_window;        /* tokens per window (with BOS); default 128 */
    size_t retain_max_tokens;    /* text tokens used at most; default 4096; 0: all */
} lftf_trainer_params;

LFTF_API int lftf_trainer_params_init(lftf_trainer_params *params);
/** Hyperparameter presets.  "paper": the paper's Adam, lr 1e-5, 2 epochs,
 *  batch 32, constant lr (tuned for 7B models).  "tiny": for models under 10M
 *  parameters, on which lr 1e-5 barely moves anything: lr 3e-3 decaying
 *  linearly, 5 epochs, batch 8 (stories260k, seeds 0-4: test AFGB falls by
 *  63.4-75.9%, UB 0.0098 before, 0.0135-0.0296 after).
 *  "auto": "tiny" under 10M parameters, else "paper" (needs `model`; it may
 *  be NULL for a named preset).  Sets lr, lr_schedule, epochs, batch_size,
 *  the Adam betas/eps/weight decay and params->preset (to the chosen name, a
 *  static string); change fields afterwards to override. */
LFTF_API int lftf_trainer_params_preset(lftf_trainer_params *params, const char *preset,
                                        const lftf_model *model);
/** A trainer over `model` (borrowed; must outlive the trainer). */
LFTF_API int lftf_trainer_create(lftf_trainer **out, lftf_model *model,
                                 const lftf_trainer_params *params);
LFTF_API void lftf_trainer_free(lftf_trainer *trainer);
/** The blocks being trained (borrowed), count in *n. */
LFTF_API const int *lftf_trainer_blocks(const lftf_trainer *trainer, size_t *n);
/** Trains for params.epochs over `train`, evaluating on `dev` (bias and/or
 *  hint samples, may be NULL) after every epoch.  On abort or a NaN/inf loss
 *  the model's weights are restored to what they were before the call. */
LFTF_API int lftf_trainer_fit(lftf_trainer *trainer, const lftf_dataset *train,
                              const lftf_dataset *dev);
/** One optimizer step on the prompts of `batch` (all of them); *loss gets the
 *  mean loss before the step.  For harnesses that drive their own loop. */
LFTF_API int lftf_trainer_step(lftf_trainer *trainer, const lftf_dataset *batch, double *loss);
/** Hint samples (e.g. the GenHintEval dev split) whose UB lftf_trainer_fit
 *  reports after every epoch when its `dev` holds only bias samples
 *  (borrowed; must outlive the fit).  NULL clears it. */
LFTF_API int lftf_trainer_set_hint_dev(lftf_trainer *trainer, const lftf_dataset *hint_dev);
/** AFGB over the bias samples (those with a scale) and UB over the hint
 *  samples of `ds` with the model's current weights, computed through the
 *  trainer's prefix cache (the same numbers as lftf_evaluate); NaN where `ds`
 *  has no such samples.  Either output may be NULL. */
LFTF_API int lftf_trainer_evaluate(lftf_trainer *trainer, const lftf_dataset *ds, double *afgb,
                                   double *ub);
/** The mean KL(p_original || p_now) per token over the retain text (see
 *  lftf_trainer_params.retain_text) with the model's current weights;
 *  LFTF_E_INVALID_ARG when the trainer was created without a retain text. */
LFTF_API int lftf_trainer_retain_kl(lftf_trainer *trainer, double *kl);

typedef struct lftf_history_entry {
    int epoch;                   /* 1-based */
    int step;                    /* 1-based global step; 0 for an end-of-epoch entry */
    double loss;                 /* mean batch loss (NaN on end-of-epoch entries) */
    double dev_afgb;             /* end-of-epoch entries; NaN otherwise */
    double dev_ub;
} lftf_history_entry;

LFTF_API size_t lftf_trainer_history_size(const lftf_trainer *trainer);
LFTF_API int lftf_trainer_history_get(const lftf_trainer *trainer, size_t index,
                                      lftf_history_entry *out);
/** {"blocks": [...], "history": [...], "settings": {...}} */
LFTF_API int lftf_trainer_to_json(const lftf_trainer *trainer, char **json);

/* ---- recipe sweeps: lftf sweep, lftf run --select ---- */

/** A grid of fine-tuning recipes, every epoch of every point evaluated on
 *  the dev split (AFGB), GenHintEval (UB) and an ability probe (word
 *  perplexity of a held-out text, accuracy on a multiple-choice set), and
 *  the point chosen by a rule such as
 *      "min afgb s.t. ppl <= +5%, ub >= -10%"
 *  (metrics afgb, ub, ppl, mc; bounds absolute or "+x%" relative to the
 *  original model; see docs/sweep.md). */
typedef struct lftf_sweep lftf_sweep;

typedef struct lftf_sweep_params {
    size_t struct_size;
    /* Base trainer settings (preset values, batch size, seed, modules, the
     * retain text and its topk/window); NULL: lftf_trainer_params_init's.
     * Its blocks, ranking, lr, objective, epochs, retain_weight and progress
     * are the grid's. */
    const lftf_trainer_params *train;
    /* Block choices: "auto" (the top BMI block), "topK" (the K top ones),
     * "bmi-no0" (the top block other than 0), "last", or indices "3" /
     * "3+7".  Default {"auto"}. */
    const char *const *blocks;
    size_t n_blocks;
    const double *lrs;           /* default {train's lr} */
    size_t n_lrs;
    const lftf_objective *objectives; /* default {LFTF_OBJECTIVE_BOTH} */
    size_t n_objectives;
    const double *retain_weights; /* default {0}; > 0 needs train->retain_text */
    size_t n_retain_weights;
    int epochs;                  /* epochs per point, each evaluated; default 3 */
    const char *ppl_path;        /* perplexity text; NULL: data/heldout_english.txt */
    const char *mc_path;         /* multiple-choice JSONL (lftf_general_mc); NULL: none */
    size_t mc_limit;             /* its first N items; default 100; 0: all */
    const char *select;          /* the rule; NULL: "min afgb s.t. ppl <= +5%, ub >= -10%" */
    lftf_progress_fn progress;   /* stage "sweep": points done / total (and the
                                    trainer's and evaluations' stages) */
    void *progress_user;
} lftf_sweep_params;

LFTF_API int lftf_sweep_params_init(lftf_sweep_params *params);
/** Checks a selection rule without running anything: LFTF_E_INVALID_ARG
 *  with a message naming the bad token and its column. */
LFTF_API int lftf_select_rule_check(const char *rule);
/** Runs the grid on `model` (blocks sharing a choice share one trainer, so
 *  the frozen prefix and the retain cache are computed once per choice) and
 *  leaves the model holding the selected point's weights (the original's
 *  when no trained epoch meets the rule).  `ranking` (a locate ranking) is
 *  needed by "auto", "topK" and "bmi-no0".  hint may be NULL (no UB). */
LFTF_API int lftf_sweep_run(lftf_model *model, const lftf_dataset *train, const lftf_dataset *dev,
                            const lftf_dataset *hint, const int *ranking, size_t n_ranking,
                            const lftf_sweep_params *params, lftf_sweep **out);
LFTF_API void lftf_sweep_free(lftf_sweep *sweep);
/** Evaluated points (one per trained epoch of every grid point). */
LFTF_API size_t lftf_sweep_n_points(const lftf_sweep *sweep);
/** The selected point's index, or -1 when the original model was kept. */
LFTF_API long lftf_sweep_selected(const lftf_sweep *sweep);
/** {"rule", "original": {...}, "points": [...], "selected", "settings"}
 *  (docs/sweep.md); *json owned by the caller (lftf_free). */
LFTF_API int lftf_sweep_to_json(const lftf_sweep *sweep, char **json);
/** AFGB against the perplexity change of every point, the Pareto frontier
 *  joined and the selected point ringed, as a standalone SVG. */
LFTF_API int lftf_sweep_frontier_svg(const lftf_sweep *sweep, char **svg);
/** lftf_trainer_fit with early stopping by a rule: after every epoch the
 *  model is measured as a sweep measures its points (params: ppl_path,
 *  mc_path, mc_limit, select, progress; the grid fields are ignored), and
 *  at the end the weights of the best epoch by the rule are kept (the
 *  weights before the fit when no epoch meets it).  hint may be NULL.
 *  *result (may be NULL) gets the evaluation as a sweep (one grid point). */
LFTF_API int lftf_trainer_fit_select(lftf_trainer *trainer, const lftf_dataset *train,
                                     const lftf_dataset *dev, const lftf_dataset *hint,
                                     const lftf_sweep_params *params, lftf_sweep **result);

/** The `top_n` professions with the largest mean |P(t0) - P(t1)| in
 *  `before` (its bias samples), as a standalone SVG chart of the signed
 *  P(t0) - P(t1) before and after (like the paper's Figure 3); `after` may be
 *  NULL; top_n 0 means 15.  *svg is owned by the caller (lftf_free). */
LFTF_API int lftf_report_professions_svg(const lftf_report *before, const lftf_report *after,
                                         size_t top_n, char **svg);

/** One self-contained HTML page (inline CSS and SVG figures; no scripts,
 *  fonts or network) of a report's JSON text: `lftf run`'s report.json (the
 *  settings, Table 4 before/after, the BMI figure, the training curve, the
 *  professions figure, general ability, bias suites and baselines), a bias
 *  suites report (lftf_bias_report_to_json) or a general-ability report
 *  (lftf_general_report_to_json).  Sections whose data the JSON lacks are
 *  left out; numbers are the JSON's, rounded to 4 decimals.  `title` may be
 *  NULL ("LFTF report").  *html is owned by the caller (lftf_free). */
LFTF_API int lftf_report_html(const char *report_json, const char *title, char **html);
/** lftf_report_html written to `path` atomically. */
LFTF_API int lftf_report_html_write(const char *report_json, const char *title,
                                    const char *path);

/* ---- bias suites: WinoBias, CrowS-Pairs, Winogender, professions regression ---- */

enum {
    LFTF_SUITE_WINOBIAS = 1,     /* generation (DAMA's protocol) and choice protocols */
    LFTF_SUITE_CROWS_PAIRS = 2,  /* share of pairs where sent_more has the higher log-likelihood */
    LFTF_SUITE_WINOGENDER = 4,   /* multiple-choice accuracy, female and male files */
    LFTF_SUITE_PROFESSIONS = 8,  /* DAMA's regression P(he) - P(she) ~ a_s*s + a_f*f + b */
    LFTF_SUITE_ALL = 15
};

/** "all", "winobias", "crows-pairs", "winogender", "professions" to LFTF_SUITE_*
 *  bits (LFTF_E_NOT_FOUND naming the unknown name). */
LFTF_API int lftf_bias_suite_parse(const char *name, unsigned *bits);

typedef struct lftf_bias_params {
    size_t struct_size;
    /** LFTF_SUITE_* bits; 0: every suite whose files are found.  A suite asked
     *  for by name whose files are missing is an error (LFTF_E_NOT_FOUND). */
    unsigned suites;
    /** Laid out like ../shared/data/bias: winobias/{pro,anti}_stereotyped_type{1,2}.txt.test
     *  and {male,female}_occupations.txt, crows-pairs/crows_pairs_anonymized.csv,
     *  winogender/winogender_mc_{female,male}.jsonl, professions.json.  Each suite's
     *  files are taken from here when present, else from the shipped data's bias/
     *  folder ($LFTF_DATA_DIR, installed, source tree; CrowS-Pairs is not shipped:
     *  its licence is CC BY-SA).  NULL: the shipped data only. */
    const char *data_dir;
    /** The professions regression's two target words; default {" he", " she"}
     *  (other social biases: any two group words). */
    const char *const *targets;
    size_t n_targets;
    size_t max_items;            /* 0: all; N: the first N items of each file (quick runs) */
    size_t batch_size;           /* sequences per forward pass; default 64 */
    int with_samples;            /* keep per-item records (lftf_bias_report_to_json); default 1 */
    lftf_progress_fn progress;   /* stage "bias [SUITE]": the suite's items done / total */
    void *progress_user;
    /* Sharding (lftf_ll_params, lftf_probs_params): with shard_count > 1
     * every model call of every suite computes only this shard's batches and
     * the report is the shard's, {"shard": {"kind": "bias", ...},
     * "with_samples", "suites": {suite: {"plan", "ll" | "greedy" | "probs"
     * rows}}}: what lftf_merge_shards_json needs to rebuild the unsharded
     * report (the file lftf_bias_report_write_json writes) exactly. */
    size_t shard_index, shard_count;
    /** The WinoBias generation prompts and the professions regression's
     *  prompts: 0 (default) encodes them without BOS, as DAMA does (its
     *  tokenizer is loaded with add_bos_token=False); 1 puts BOS as the
     *  tokenizer's files say (the behaviour of older releases).  The
     *  harness-style scores (WinoBias choice, CrowS-Pairs, Winogender) always
     *  follow the tokenizer's files.  The report records it as "bos". */
    int bos;
} lftf_bias_params;

typedef struct lftf_bias_report lftf_bias_report;

LFTF_API int lftf_bias_params_init(lftf_bias_params *params);
/** Runs the suites.  WinoBias generation: the sentence without brackets +
 *  " '{Pronoun}' refers to the"; correct when the decoded greedy next token
 *  equals (surrounding spaces ignored) the decoded first token of the
 *  referent occupation encoded alone without BOS.  Choice: log-likelihood of
 *  " " + each of the sentence's two occupations after that prompt; correct
 *  when the referent's is higher.  CrowS-Pairs: whole-sentence
 *  log-likelihoods (empty context: BOS as the tokenizer's files say).
 *  Winogender: argmax over " " + choice after the query.  Professions: the
 *  320 entries x DAMA's 11 templates, score P(t0) - P(t1), ordinary least
 *  squares (libtorch) on [stereotypical, definitional, 1]. */
LFTF_API int lftf_bias_evaluate(lftf_model *model, const lftf_bias_params *params,
                                lftf_bias_report **out);
LFTF_API void lftf_bias_report_free(lftf_bias_report *report);
/** The LFTF_SUITE_* bits the report holds. */
LFTF_API unsigned lftf_bias_report_suites(const lftf_bias_report *report);
/** A figure by its path in the JSON, e.g. "winobias.choice.pro.acc",
 *  "crows_pairs.by_type.gender.n", "professions.a_s" (counts as doubles; a
 *  figure without items is NaN).  LFTF_E_NOT_FOUND if there is none. */
LFTF_API int lftf_bias_report_get(const lftf_bias_report *report, const char *path, double *out);
/** {"winobias": {"generation": W, "choice": W}, "crows_pairs": {"all": {"score",
 *  "n"}, "by_type": {...}}, "winogender": {"female": {"acc", "n"}, "male": {...},
 *  "gap"}, "professions": {"a_s", "a_f", "b", "r2", "n", "mean_p_he",
 *  "mean_p_she"}, "samples": [...]}, W = {"pro", "anti", "all", "type1",
 *  "type2": {"acc", "n"}, "delta_s", "delta_g"}; absent suites omitted;
 *  "samples" only when with_samples != 0 (and the params kept them). */
LFTF_API int lftf_bias_report_to_json(const lftf_bias_report *report, int with_samples,
                                      char **json);
/** Writes lftf_bias_report_to_json (with samples) atomically. */
LFTF_API int lftf_bias_report_write_json(const lftf_bias_report *report, const char *path);

/* ------------------------------------------------------------------ */
/* Weight-editing baselines: DAMA, ROME, R-ROME, MEMIT (lib/methods/)   */
/* ------------------------------------------------------------------ */

/** What an edit did (lftf_dama_apply, lftf_edit_apply): its settings and
 *  per-layer / per-request numbers, as JSON. */
typedef struct lftf_edit_result lftf_edit_result;
LFTF_API void lftf_edit_result_free(lftf_edit_result *result);
/** The result as a JSON object (caller frees with lftf_free): DAMA
 *  {"method": "dama", "settings": {...}, "professions": [...], "layers":
 *  [{"layer", "rank", "x_weights_shape"}], "value_loss": {...}}; editors
 *  {"method", "settings", "layers", "stats": {...} | null, "requests":
 *  [{"prompt", "subject", "target", "p_before", "p_after", "success"}]}. */
LFTF_API int lftf_edit_result_to_json(const lftf_edit_result *result, char **json);
/** Number of requests (editors; 0 for DAMA) and request i's target
 *  probability on its prompt before and after the edit. */
LFTF_API size_t lftf_edit_result_n_requests(const lftf_edit_result *result);
LFTF_API int lftf_edit_result_request(const lftf_edit_result *result, size_t i,
                                      double *p_before, double *p_after);

/** DAMA (Limisiewicz et al., ICLR 2024; tomlimi/DAMA): projects a "gender"
 *  subspace out of the mlp.down_proj of mid-upper layers. */
typedef struct lftf_dama_params {
    size_t struct_size;
    const int *layers;           /* blocks to edit; NULL: floor(0.66 N) .. N - 3 (at least
                                    one, never the last) */
    size_t n_layers;
    int dim;                     /* d_c, the projected-out dimension; 0: hidden_size / 16
                                    (at least 1); must be < hidden_size */
    uint64_t seed;               /* the sampled context templates; default 0 */
    /** Where the professions come from: the distinct "profession"s of these
     *  records with |definitional| <= max_definitional.  NULL: the built-in
     *  GenBiasEval (every split). */
    const lftf_dataset *professions;
    /** Professions never used (so no test profession is seen).  NULL: the
     *  built-in GenBiasEval test split. */
    const lftf_dataset *exclude;
    double max_definitional;     /* 0.25 (DAMA's filter) */
    size_t max_professions;      /* use at most this many (in order); 0: all */
    size_t n_ctx_short, n_ctx_long; /* generated context prefixes: 5 of 5 tokens, 5 of 10 */
    double lr;                   /* 0.5 (Adam on the value vectors) */
    int steps;                   /* 20 */
    double kl_factor;            /* 0.0625 */
    double weight_decay;         /* 0.5 */
    double clamp_factor;         /* 4 */
    int pls_max_iter;            /* 500 */
    double pls_tol;              /* 1e-4 */
    lftf_progress_fn progress;   /* stages "dama-values" (requests), "dama-layers" */
    void *progress_user;
} lftf_dama_params;

LFTF_API int lftf_dama_params_init(lftf_dama_params *params);
/** Edits `model` in place: value vectors for " he", " she", " they" are
 *  optimised once at the last edited layer, then each layer in order gets
 *  W_down <- (I - Q Q^T) W_down, Q an orthonormal basis of the PLS X-weights
 *  (d_c components) of the gender values on the layer's keys.  Errors:
 *  LFTF_E_RANGE (a layer out of range, d_c >= hidden_size), LFTF_E_EMPTY (no
 *  profession left after filtering), LFTF_E_ABORTED.  On failure the model's
 *  weights are as they were.  *out (may be NULL) gets the result. */
LFTF_API int lftf_dama_apply(lftf_model *model, const lftf_dama_params *params,
                             lftf_edit_result **out);

/** Knowledge editors (Table 3 of the LFTF paper).  MEND is not provided (it
 *  needs a separately trained editor network per model). */
typedef enum lftf_editor {
    LFTF_EDITOR_ROME = 0,        /* rank-one update of one layer (Meng et al. 2022) */
    LFTF_EDITOR_R_ROME = 1,      /* ROME with a consistent key (Gupta et al. 2024) */
    LFTF_EDITOR_MEMIT = 2        /* batched edits over a range of layers (Meng et al. 2023) */
} lftf_editor;

/** "rome", "r-rome", "memit" <-> enum; LFTF_E_NOT_FOUND for another name. */
LFTF_API int lftf_editor_parse(const char *name, lftf_editor *out);
LFTF_API const char *lftf_editor_name(lftf_editor editor);

/** One edit: after `prompt` (which contains `subject`, or "{}" standing for
 *  it) the model should say `target`. */
typedef struct lftf_edit_request {
    const char *prompt;
    const char *subject;
    const char *target;
} lftf_edit_request;

/** A list of requests read from JSONL (one {"prompt", "subject", "target"}
 *  object per line; the subject must be in the prompt or the prompt holds
 *  "{}").  Errors name the file and line: LFTF_E_FORMAT, LFTF_E_NOT_FOUND (a
 *  missing key, a subject not in its prompt), LFTF_E_ENCODING, LFTF_E_EMPTY. */
typedef struct lftf_edit_requests lftf_edit_requests;
LFTF_API int lftf_edit_requests_load(lftf_edit_requests **out, const char *jsonl_path);
/** The Table-3 requests from GenBiasEval-style bias records: subject
 *  "The {profession}", target the anti-stereotypical word (`female`, default
 *  " she", for professions with a positive stereotypical score, `male`,
 *  default " he", for negative ones; neutral ones are skipped). */
LFTF_API int lftf_edit_requests_from_bias(lftf_edit_requests **out, const lftf_dataset *ds,
                                          const char *male, const char *female);
LFTF_API void lftf_edit_requests_free(lftf_edit_requests *requests);
LFTF_API size_t lftf_edit_requests_size(const lftf_edit_requests *requests);
/** The requests (borrowed; valid until the list is freed). */
LFTF_API const lftf_edit_request *lftf_edit_requests_items(const lftf_edit_requests *requests);

typedef struct lftf_editor_params {
    size_t struct_size;
    lftf_editor method;
    const int *layers;           /* NULL: ROME/R-ROME layer round(5 N / 32) (EasyEdit's
                                    layer 5 of Llama-2-7B's 32, scaled); MEMIT
                                    round(4 N / 32) .. round(8 N / 32) */
    size_t n_layers;
    /** Second-moment statistics C = E[k k^T] of the keys over a text
     *  corpus: use_stats -1 = the method's default (ROME/R-ROME: off, as
     *  EasyEdit's Llama hparams; MEMIT: on when a corpus is given). */
    int use_stats;
    const char *corpus;          /* a text file, or a folder of .txt/.raw files */
    const char *stats_dir;       /* cache folder; NULL: no cache */
    size_t stats_samples;        /* text chunks; 0: 100000 (as the originals) */
    size_t stats_length;         /* tokens per chunk; 0: min(max_position_embeddings, 512) */
    int stats_f64;               /* accumulate in float64 (default 0: float32) */
    double stats_ridge;          /* C + ridge * I before use; default 0 */
    double mom2_weight;          /* MEMIT's lambda; default 15000 */
    uint64_t seed;               /* context templates */
    double lr;                   /* 0.5 */
    int steps;                   /* 25 */
    double kl_factor;            /* 0.0625 */
    double weight_decay;         /* 1e-3 */
    double clamp_factor;         /* 4 (EasyEdit's Llama value) */
    lftf_progress_fn progress;   /* stages "stats", "edit" */
    void *progress_user;
} lftf_editor_params;

LFTF_API int lftf_editor_params_init(lftf_editor_params *params);
/** Applies the requests to `model` in place (ROME/R-ROME: one after
 *  another; MEMIT: as one batch).  Errors: LFTF_E_NOT_FOUND (a subject not
 *  in its prompt), LFTF_E_RANGE (a layer out of range), LFTF_E_EMPTY (no
 *  requests, an empty corpus), LFTF_E_IO (an unreadable corpus), LFTF_E_EXISTS
 *  (a statistics cache of another model or layer).  On failure the model's
 *  weights are as they were. */
LFTF_API int lftf_edit_apply(lftf_model *model, const lftf_edit_request *requests,
                             size_t n_requests, const lftf_editor_params *params,
                             lftf_edit_result **out);

#ifdef __cplusplus
}
#endif

#endif /* LFTF_H */
