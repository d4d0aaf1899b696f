"""The declarations of include/lftf.h, as cffi's ABI mode reads them.

Keep this in sync with the header: tests/test_cdef.py parses include/lftf.h
and fails when a function, struct field or enum value differs from what is
declared here.  Macros are gone (cffi's cdef takes no preprocessor lines),
so the version the bindings were written against is repeated below.
"""

# The header version these declarations match (LFTF_VERSION_* in lftf.h).
VERSION_MAJOR = 0
VERSION_MINOR = 1
VERSION_PATCH = 0

CDEF = r"""
/* Version */
const char *lftf_version(void);
unsigned lftf_version_number(void);

/* Status codes and errors */
typedef enum lftf_status {
    LFTF_OK = 0,
    LFTF_E_INVALID_ARG = -1,
    LFTF_E_NOMEM = -2,
    LFTF_E_IO = -3,
    LFTF_E_FORMAT = -4,
    LFTF_E_UNSUPPORTED = -5,
    LFTF_E_NOT_FOUND = -6,
    LFTF_E_RANGE = -7,
    LFTF_E_TORCH = -8,
    LFTF_E_DEVICE = -9,
    LFTF_E_ABORTED = -10,
    LFTF_E_NUMERIC = -11,
    LFTF_E_EXISTS = -12,
    LFTF_E_ENCODING = -13,
    LFTF_E_EMPTY = -14
} lftf_status;

const char *lftf_status_str(int status);
const char *lftf_last_error(void);
void lftf_clear_error(void);
void lftf_free(void *ptr);

/* Logging, progress, threads */
typedef enum lftf_log_level {
    LFTF_LOG_DEBUG = 0,
    LFTF_LOG_INFO = 1,
    LFTF_LOG_WARN = 2,
    LFTF_LOG_ERROR = 3,
    LFTF_LOG_NONE = 4
} lftf_log_level;

typedef void (*lftf_log_fn)(lftf_log_level level, const char *message, void *user);
void lftf_set_log_callback(lftf_log_fn fn, void *user);
void lftf_set_log_level(lftf_log_level level);

typedef int (*lftf_progress_fn)(const char *stage, size_t done, size_t total, void *user);
int lftf_set_num_threads(int n);
int lftf_cuda_available(void);

/* Tokenizer */
typedef struct lftf_tokenizer lftf_tokenizer;

typedef struct lftf_tokenizer_params {
    size_t struct_size;
    int add_bos;
} lftf_tokenizer_params;

int lftf_tokenizer_params_init(lftf_tokenizer_params *params);
int lftf_tokenizer_load(lftf_tokenizer **out, const char *path,
                        const lftf_tokenizer_params *params);
void lftf_tokenizer_free(lftf_tokenizer *tok);
int lftf_tokenizer_encode(const lftf_tokenizer *tok, const char *text, size_t len,
                          int add_special, int32_t **ids, size_t *n_ids);
int lftf_tokenizer_decode(const lftf_tokenizer *tok, const int32_t *ids, size_t n_ids,
                          int skip_special, char **text);
const char *lftf_tokenizer_token(const lftf_tokenizer *tok, int32_t id);
int32_t lftf_tokenizer_token_id(const lftf_tokenizer *tok, const char *token);
size_t lftf_tokenizer_vocab_size(const lftf_tokenizer *tok);
int32_t lftf_tokenizer_bos_id(const lftf_tokenizer *tok);

/* Models */
typedef struct lftf_model lftf_model;

typedef enum lftf_dtype {
    LFTF_DTYPE_DEFAULT = 0,
    LFTF_DTYPE_F32 = 1,
    LFTF_DTYPE_F16 = 2,
    LFTF_DTYPE_BF16 = 3
} lftf_dtype;

const char *lftf_dtype_name(lftf_dtype dtype);
int lftf_dtype_parse(const char *name, lftf_dtype *out);

typedef struct lftf_model_params {
    size_t struct_size;
    const char *device;
    lftf_dtype dtype;
    int add_bos;
    lftf_progress_fn progress;
    void *progress_user;
} lftf_model_params;

int lftf_model_params_init(lftf_model_params *params);
int lftf_model_load(lftf_model **out, const char *dir, const lftf_model_params *params);
void lftf_model_free(lftf_model *model);

typedef struct lftf_model_info {
    size_t struct_size;
    const char *architecture;
    const char *path;
    const char *device;
    lftf_dtype dtype;
    lftf_dtype weight_dtype;
    int n_layers, hidden_size, intermediate_size;
    int n_heads, n_kv_heads, head_dim;
    int vocab_size, max_position_embeddings;
    double rms_norm_eps, rope_theta;
    int tie_word_embeddings, attention_bias, mlp_bias;
    int bos_token_id, eos_token_id;
    int64_t n_params;
} lftf_model_info;

int lftf_model_get_info(const lftf_model *model, lftf_model_info *info);
int lftf_model_info_json(const lftf_model *model, char **json);
const lftf_tokenizer *lftf_model_tokenizer(const lftf_model *model);

typedef struct lftf_probs_params {
    size_t struct_size;
    size_t batch_size;
    lftf_progress_fn progress;
    void *progress_user;
} lftf_probs_params;

int lftf_probs_params_init(lftf_probs_params *params);
int lftf_model_target_probs(lftf_model *model,
                            const char *const *prompts, size_t n_prompts,
                            const char *const *targets, size_t n_targets,
                            const lftf_probs_params *params,
                            double *probs, double *logprobs, int32_t *argmax);
int lftf_model_encode_target(const lftf_model *model, const char *prompt,
                             const char *target,
                             int32_t **prompt_ids, size_t *n_prompt,
                             int32_t **target_ids, size_t *n_target);
int lftf_model_next_logprobs(lftf_model *model, const char *prompt, float *logprobs,
                             size_t vocab_size);

typedef struct lftf_save_params {
    size_t struct_size;
    int overwrite;
    int delta;
    lftf_progress_fn progress;
    void *progress_user;
} lftf_save_params;

int lftf_save_params_init(lftf_save_params *params);
int lftf_model_save(lftf_model *model, const char *out_dir, const lftf_save_params *params);
int lftf_delta_apply(const char *base_dir, const char *delta_dir, const char *out_dir,
                     const lftf_save_params *params);

/* Datasets */
typedef struct lftf_dataset lftf_dataset;

typedef struct lftf_sample {
    const char *id;
    const char *prompt;
    const char *profession;
    const char *template_;
    const char *scale;
    const char *split;
    const char *hint;
    double definitional;
    double stereotypical;
} lftf_sample;

int lftf_dataset_load(lftf_dataset **out, const char *jsonl_path);
int lftf_dataset_load_builtin(lftf_dataset **out, const char *name, const char *data_dir);
void lftf_dataset_free(lftf_dataset *ds);
size_t lftf_dataset_size(const lftf_dataset *ds);

enum {
    LFTF_KIND_BIAS = 1,
    LFTF_KIND_HINT = 2
};
unsigned lftf_dataset_kinds(const lftf_dataset *ds);
int lftf_dataset_get(const lftf_dataset *ds, size_t index, lftf_sample *out);
int lftf_dataset_select(lftf_dataset **out, const lftf_dataset *ds, const char *split,
                        const char *scale, const char *hint);
int lftf_dataset_sample(lftf_dataset **out, const lftf_dataset *ds, size_t n,
                        uint64_t seed);
int lftf_build_data(const char *professions_json, const char *out_dir);

/* Metrics and evaluation reports */
double lftf_metric_afgb(const double *probs, size_t n, size_t k);
double lftf_metric_ub(const double *p_male, const double *p_female, const int *sign,
                      size_t n);

typedef struct lftf_report lftf_report;

typedef struct lftf_eval_params {
    size_t struct_size;
    const char *const *targets;
    size_t n_targets;
    size_t batch_size;
    const char *prefix;
    lftf_progress_fn progress;
    void *progress_user;
} lftf_eval_params;

int lftf_eval_params_init(lftf_eval_params *params);
int lftf_evaluate(lftf_model *model, const lftf_dataset *bias, const lftf_dataset *hint,
                  const lftf_eval_params *params, lftf_report **out);
void lftf_report_free(lftf_report *report);
int lftf_report_afgb(const lftf_report *report, const char *scale, double *out);
int lftf_report_ub(const lftf_report *report, double *out);
size_t lftf_report_n_samples(const lftf_report *report);
size_t lftf_report_n_targets(const lftf_report *report);
const char *lftf_report_target(const lftf_report *report, size_t j);

typedef struct lftf_report_sample {
    const char *id;
    const char *dataset;
    const char *prompt;
    const char *profession;
    const char *scale;
    const char *hint;
    const double *probs;
} lftf_report_sample;

int lftf_report_sample_get(const lftf_report *report, size_t index,
                           lftf_report_sample *out);
int lftf_report_to_json(const lftf_report *report, const char *model_name, char **json);
int lftf_report_write_json(const lftf_report *report, const char *model_name,
                           const char *path);

/* Locating */
typedef struct lftf_locate_result lftf_locate_result;

typedef struct lftf_locate_params {
    size_t struct_size;
    int final_norm;
    size_t batch_size;
    lftf_progress_fn progress;
    void *progress_user;
} lftf_locate_params;

int lftf_locate_params_init(lftf_locate_params *params);
int lftf_locate(lftf_model *model, const lftf_dataset *prompts,
                const lftf_locate_params *params, lftf_locate_result **out);
void lftf_locate_result_free(lftf_locate_result *result);
size_t lftf_locate_n_blocks(const lftf_locate_result *result);
const double *lftf_locate_bmi(const lftf_locate_result *result);
const int *lftf_locate_ranking(const lftf_locate_result *result);
size_t lftf_locate_n_prompts(const lftf_locate_result *result);
size_t lftf_locate_n_tokens(const lftf_locate_result *result);
int lftf_locate_to_json(const lftf_locate_result *result, char **json);
int lftf_locate_robustness(lftf_model *model, const lftf_dataset *prompts,
                           size_t n_samples, const uint64_t *seeds, size_t n_seeds,
                           const lftf_locate_params *params, double **bmi,
                           size_t *n_blocks, double *mean_variance);
int lftf_locate_to_svg(const lftf_locate_result *result, const int *highlight,
                       size_t n_highlight, char **svg);

/* Fine-tuning */
typedef struct lftf_trainer lftf_trainer;

typedef enum lftf_method {
    LFTF_METHOD_LFTF = 0,
    LFTF_METHOD_FPFT = 1
} lftf_method;

enum {
    LFTF_MODULE_ATTN = 1,
    LFTF_MODULE_MLP = 2,
    LFTF_MODULE_NORM = 4
};

typedef enum lftf_objective {
    LFTF_OBJECTIVE_BOTH = 0,
    LFTF_OBJECTIVE_FIRST = 1,
    LFTF_OBJECTIVE_SECOND = 2
} lftf_objective;

typedef struct lftf_trainer_params {
    size_t struct_size;
    lftf_method method;
    const int *blocks;
    size_t n_blocks;
    const int *ranking;
    size_t n_ranking;
    size_t topk;
    unsigned modules;
    lftf_objective objective;
    const char *const *targets;
    size_t n_targets;
    double lr;
    double beta1, beta2, eps, weight_decay;
    int epochs;
    size_t batch_size;
    uint64_t seed;
    int cache_prefix;
    size_t eval_batch_size;
    lftf_progress_fn progress;
    void *progress_user;
    const char *preset;
} lftf_trainer_params;

int lftf_trainer_params_init(lftf_trainer_params *params);
int lftf_trainer_params_preset(lftf_trainer_params *params, const char *preset,
                               const lftf_model *model);
int lftf_trainer_create(lftf_trainer **out, lftf_model *model,
                        const lftf_trainer_params *params);
void lftf_trainer_free(lftf_trainer *trainer);
const int *lftf_trainer_blocks(const lftf_trainer *trainer, size_t *n);
int lftf_trainer_fit(lftf_trainer *trainer, const lftf_dataset *train,
                     const lftf_dataset *dev);
int lftf_trainer_step(lftf_trainer *trainer, const lftf_dataset *batch, double *loss);
int lftf_trainer_set_hint_dev(lftf_trainer *trainer, const lftf_dataset *hint_dev);
int lftf_trainer_evaluate(lftf_trainer *trainer, const lftf_dataset *ds, double *afgb,
                          double *ub);

typedef struct lftf_history_entry {
    int epoch;
    int step;
    double loss;
    double dev_afgb;
    double dev_ub;
} lftf_history_entry;

size_t lftf_trainer_history_size(const lftf_trainer *trainer);
int lftf_trainer_history_get(const lftf_trainer *trainer, size_t index,
                             lftf_history_entry *out);
int lftf_trainer_to_json(const lftf_trainer *trainer, char **json);

int lftf_report_professions_svg(const lftf_report *before, const lftf_report *after,
                                size_t top_n, char **svg);
"""
