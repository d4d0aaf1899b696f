/* config.json of LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM,
 * with the defaults transformers applies when a field is absent. */
#include "formats/config.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "common/jsonutil.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUPPORTED_ARCHS "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM"

typedef enum { FAMILY_LLAMA, FAMILY_MISTRAL, FAMILY_QWEN2 } family;

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Fields live in the root object or (prefix != NULL) in a sub-object such as
 * rope_scaling; errors name "prefix.key". */
typedef struct ctx {
    const char *what;
    const char *prefix;
} ctx;

static int field_err(const ctx *c, const char *key, const char *fmt_tail, const json_t *v)
{
    return lftf__err(LFTF_E_FORMAT, "%s: field \"%s%s%s\" %s, got %s", c->what,
                     c->prefix ? c->prefix : "", c->prefix ? "." : "", key, fmt_tail,
                     v ? type_name(v) : "nothing");
}

static int missing(const ctx *c, const char *key)
{
    return lftf__err(LFTF_E_FORMAT, "%s: required field \"%s%s%s\" is missing", c->what,
                     c->prefix ? c->prefix : "", c->prefix ? "." : "", key);
}

/* An integer in [lo, INT_MAX]; 4096.0 is accepted as 4096.  Absent or null
 * gives def (or an error when required). */
static int get_int(const ctx *c, const json_t *obj, const char *key, int required, int def,
                   int lo, int *out)
{
    json_t *v = json_object_get(obj, key);
    long long x;
    if (!v || json_is_null(v)) {
        if (required)
            return missing(c, key);
        *out = def;
        return LFTF_OK;
    }
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v) &&
               fabs(json_real_value(v)) < 1e15) {
        x = (long long)json_real_value(v);
    } else {
        return field_err(c, key, "must be an integer", v);
    }
    if (x < lo || x > INT_MAX)
        return lftf__err(LFTF_E_FORMAT, "%s: field \"%s%s%s\" must be %s, got %lld", c->what,
                         c->prefix ? c->prefix : "", c->prefix ? "." : "", key,
                         lo > 0 ? "a positive integer" : "a non-negative integer", x);
    *out = (int)x;
    return LFTF_OK;
}

/* A finite number > 0. */
static int get_positive(const ctx *c, const json_t *obj, const char *key, int required,
                        double def, double *out)
{
    json_t *v = json_object_get(obj, key);
    double x;
    if (!v || json_is_null(v)) {
        if (required)
            return missing(c, key);
        *out = def;
        return LFTF_OK;
    }
    if (!json_is_number(v))
        return field_err(c, key, "must be a number", v);
    x = json_number_value(v);
    if (!(x > 0) || !isfinite(x))
        return lftf__err(LFTF_E_FORMAT, "%s: field \"%s%s%s\" must be a positive number, got %g",
                         c->what, c->prefix ? c->prefix : "", c->prefix ? "." : "", key, x);
    *out = x;
    return LFTF_OK;
}

static int get_bool(const ctx *c, const json_t *obj, const char *key, int def, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return LFTF_OK;
    }
    if (!json_is_boolean(v))
        return field_err(c, key, "must be true or false", v);
    *out = json_is_true(v);
    return LFTF_OK;
}

/* A string or absent (NULL); anything else is an error. */
static int get_string(const ctx *c, const json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return LFTF_OK;
    if (!json_is_string(v))
        return field_err(c, key, "must be a string", v);
    *out = json_string_value(v);
    return LFTF_OK;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static int parse_arch(const ctx *c, const json_t *root, lftf_config *cfg, family *fam)
{
    const json_t *archs = json_object_get(root, "architectures");
    const char *arch = NULL, *model_type = NULL;

    LFTF_TRY(get_string(c, root, "model_type", &model_type));
    copy_str(cfg->model_type, sizeof cfg->model_type, model_type);
    if (archs && !json_is_null(archs)) {
        if (!json_is_array(archs) || json_array_size(archs) == 0 ||
            !json_is_string(json_array_get(archs, 0)))
            return field_err(c, "architectures", "must be a non-empty list of strings", archs);
        arch = json_string_value(json_array_get(archs, 0));
    } else if (model_type) {
        /* old configs name only the model type */
        if (strcmp(model_type, "llama") == 0)
            arch = "LlamaForCausalLM";
        else if (strcmp(model_type, "mistral") == 0)
            arch = "MistralForCausalLM";
        else if (strcmp(model_type, "qwen2") == 0)
            arch = "Qwen2ForCausalLM";
        else
            return lftf__err(LFTF_E_UNSUPPORTED,
                             "%s: unsupported model_type '%s' (supported architectures: %s)",
                             c->what, model_type, SUPPORTED_ARCHS);
    } else {
        return lftf__err(LFTF_E_FORMAT,
                         "%s: neither \"architectures\" nor \"model_type\" is given", c->what);
    }
    if (strcmp(arch, "LlamaForCausalLM") == 0) {
        *fam = FAMILY_LLAMA;
        cfg->arch = LFTF_ARCH_LLAMA;
    } else if (strcmp(arch, "MistralForCausalLM") == 0) {
        /* Llama's math (sliding window aside, see sliding_window) */
        *fam = FAMILY_MISTRAL;
        cfg->arch = LFTF_ARCH_LLAMA;
    } else if (strcmp(arch, "Qwen2ForCausalLM") == 0) {
        *fam = FAMILY_QWEN2;
        cfg->arch = LFTF_ARCH_QWEN2;
    } else {
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: unsupported architecture '%s' (supported: %s)", c->what, arch,
                         SUPPORTED_ARCHS);
    }
    copy_str(cfg->architecture, sizeof cfg->architecture, arch);
    return LFTF_OK;
}

static int parse_rope_scaling(const ctx *root_ctx, const json_t *rs, const char *field,
                              lftf_config *cfg)
{
    ctx c = {root_ctx->what, field};
    const char *type = NULL;

    cfg->rope_type = LFTF_ROPE_DEFAULT;
    cfg->rope_factor = 1.0;
    if (!rs || json_is_null(rs))
        return LFTF_OK;
    if (!json_is_object(rs))
        return field_err(root_ctx, field, "must be an object or null", rs);
    LFTF_TRY(get_string(&c, rs, "rope_type", &type));
    if (!type)
        LFTF_TRY(get_string(&c, rs, "type", &type));
    if (!type || strcmp(type, "default") == 0)
        return LFTF_OK;
    if (strcmp(type, "linear") == 0) {
        cfg->rope_type = LFTF_ROPE_LINEAR;
        return get_positive(&c, rs, "factor", 1, 1.0, &cfg->rope_factor);
    }
    if (strcmp(type, "llama3") == 0) {
        cfg->rope_type = LFTF_ROPE_LLAMA3;
        LFTF_TRY(get_positive(&c, rs, "factor", 1, 1.0, &cfg->rope_factor));
        LFTF_TRY(get_positive(&c, rs, "low_freq_factor", 1, 1.0, &cfg->rope_low_freq_factor));
        LFTF_TRY(get_positive(&c, rs, "high_freq_factor", 1, 1.0, &cfg->rope_high_freq_factor));
        LFTF_TRY(get_int(&c, rs, "original_max_position_embeddings", 1, 0, 1,
                         &cfg->rope_original_max_position));
        /* the smoothing divides by (high - low) */
        if (!(cfg->rope_high_freq_factor > cfg->rope_low_freq_factor))
            return lftf__err(LFTF_E_FORMAT,
                             "%s: field \"%s.high_freq_factor\" (%g) must be greater than "
                             "\"%s.low_freq_factor\" (%g)",
                             c.what, field, cfg->rope_high_freq_factor, field,
                             cfg->rope_low_freq_factor);
        return LFTF_OK;
    }
    return lftf__err(LFTF_E_UNSUPPORTED,
                     "%s: field \"%s\": rope scaling type '%s' is not supported (supported: "
                     "default, linear, llama3)",
                     c.what, field, type);
}

static int parse_token_ids(const ctx *c, const json_t *root, lftf_config *cfg)
{
    const json_t *eos = json_object_get(root, "eos_token_id");
    size_t i;
    json_t *v;

    LFTF_TRY(get_int(c, root, "bos_token_id", 0, -1, 0, &cfg->bos_token_id));
    cfg->eos_token_id = -1;
    cfg->n_eos_token_ids = 0;
    if (json_is_array(eos)) {
        json_array_foreach(eos, i, v) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > INT_MAX)
                return lftf__err(LFTF_E_FORMAT,
                                 "%s: field \"eos_token_id\": element %zu is not a token id",
                                 c->what, i);
            if (i < sizeof cfg->eos_token_ids / sizeof cfg->eos_token_ids[0])
                cfg->eos_token_ids[cfg->n_eos_token_ids++] = (int)json_integer_value(v);
        }
        if (cfg->n_eos_token_ids > 0)
            cfg->eos_token_id = cfg->eos_token_ids[0];
        return LFTF_OK;
    }
    LFTF_TRY(get_int(c, root, "eos_token_id", 0, -1, 0, &cfg->eos_token_id));
    if (cfg->eos_token_id >= 0)
        cfg->eos_token_ids[cfg->n_eos_token_ids++] = cfg->eos_token_id;
    return LFTF_OK;
}

static int parse_root(const char *what, const json_t *root, lftf_config *cfg)
{
    ctx c = {what, NULL};
    family fam = FAMILY_LLAMA;
    const char *act = NULL, *dtype = NULL;
    const json_t *rope_params, *rs;
    int default_max_pos, use_sw = 0, sw = 0;

    if (!json_is_object(root))
        return lftf__err(LFTF_E_FORMAT, "%s: the config is not a JSON object", what);
    LFTF_TRY(parse_arch(&c, root, cfg, &fam));
    if (json_object_get(root, "quantization_config") &&
        !json_is_null(json_object_get(root, "quantization_config")))
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: quantized checkpoints (\"quantization_config\") are not supported",
                         what);

    LFTF_TRY(get_string(&c, root, "hidden_act", &act));
    if (act && strcmp(act, "silu") != 0)
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: field \"hidden_act\" is '%s'; only 'silu' is supported", what, act);

    LFTF_TRY(get_int(&c, root, "hidden_size", 1, 0, 1, &cfg->hidden_size));
    LFTF_TRY(get_int(&c, root, "intermediate_size", 1, 0, 1, &cfg->intermediate_size));
    LFTF_TRY(get_int(&c, root, "num_hidden_layers", 1, 0, 1, &cfg->num_hidden_layers));
    LFTF_TRY(get_int(&c, root, "num_attention_heads", 1, 0, 1, &cfg->num_attention_heads));
    LFTF_TRY(get_int(&c, root, "num_key_value_heads", 0, cfg->num_attention_heads, 1,
                     &cfg->num_key_value_heads));
    if (cfg->num_attention_heads % cfg->num_key_value_heads != 0)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: field \"num_attention_heads\" (%d) is not a multiple of "
                         "\"num_key_value_heads\" (%d)",
                         what, cfg->num_attention_heads, cfg->num_key_value_heads);
    LFTF_TRY(get_int(&c, root, "head_dim", 0, 0, 1, &cfg->head_dim));
    if (cfg->head_dim == 0) {
        if (cfg->hidden_size % cfg->num_attention_heads != 0)
            return lftf__err(LFTF_E_FORMAT,
                             "%s: field \"hidden_size\" (%d) is not a multiple of "
                             "\"num_attention_heads\" (%d) and no \"head_dim\" is given",
                             what, cfg->hidden_size, cfg->num_attention_heads);
        cfg->head_dim = cfg->hidden_size / cfg->num_attention_heads;
    }
    if (cfg->head_dim % 2 != 0)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: head dimension %d is odd (rotary embeddings rotate pairs)", what,
                         cfg->head_dim);
    if ((long long)cfg->num_attention_heads * cfg->head_dim > INT_MAX)
        return lftf__err(LFTF_E_FORMAT, "%s: num_attention_heads x head_dim overflows", what);
    LFTF_TRY(get_int(&c, root, "vocab_size", 1, 0, 1, &cfg->vocab_size));

    default_max_pos = fam == FAMILY_QWEN2 ? 32768 : fam == FAMILY_MISTRAL ? 131072 : 2048;
    LFTF_TRY(get_int(&c, root, "max_position_embeddings", 0, default_max_pos, 1,
                     &cfg->max_position_embeddings));
    LFTF_TRY(get_positive(&c, root, "rms_norm_eps", 0, 1e-6, &cfg->rms_norm_eps));

    /* transformers 5 moves rope_theta and the scaling into rope_parameters */
    rope_params = json_object_get(root, "rope_parameters");
    if (rope_params && !json_is_null(rope_params) && !json_is_object(rope_params))
        return field_err(&c, "rope_parameters", "must be an object or null", rope_params);
    if (json_object_get(root, "rope_theta") || !json_is_object(rope_params)) {
        LFTF_TRY(get_positive(&c, root, "rope_theta", 0, 10000.0, &cfg->rope_theta));
    } else {
        ctx pc = {what, "rope_parameters"};
        LFTF_TRY(get_positive(&pc, rope_params, "rope_theta", 0, 10000.0, &cfg->rope_theta));
    }
    rs = json_object_get(root, "rope_scaling");
    if (rs && !json_is_null(rs))
        LFTF_TRY(parse_rope_scaling(&c, rs, "rope_scaling", cfg));
    else
        LFTF_TRY(parse_rope_scaling(&c, rope_params, "rope_parameters", cfg));

    LFTF_TRY(get_bool(&c, root, "tie_word_embeddings", 0, &cfg->tie_word_embeddings));
    switch (fam) {
    case FAMILY_LLAMA: {
        int attention_bias;
        LFTF_TRY(get_bool(&c, root, "attention_bias", 0, &attention_bias));
        LFTF_TRY(get_bool(&c, root, "mlp_bias", 0, &cfg->mlp_bias));
        cfg->qkv_bias = cfg->o_bias = attention_bias;
        break;
    }
    case FAMILY_MISTRAL:
        /* MistralAttention and MistralMLP have no biases whatever the config says */
        cfg->qkv_bias = cfg->o_bias = cfg->mlp_bias = 0;
        LFTF_TRY(get_int(&c, root, "sliding_window", 0, 4096, 1, &sw));
        if (json_is_null(json_object_get(root, "sliding_window")))
            sw = 0;
        break;
    case FAMILY_QWEN2:
        /* Qwen2Attention: q/k/v always biased, o never */
        cfg->qkv_bias = 1;
        cfg->o_bias = 0;
        cfg->mlp_bias = 0;
        LFTF_TRY(get_bool(&c, root, "use_sliding_window", 0, &use_sw));
        if (use_sw)
            LFTF_TRY(get_int(&c, root, "sliding_window", 0, 4096, 1, &sw));
        break;
    }
    cfg->sliding_window = sw > 0 && sw < cfg->max_position_embeddings ? sw : 0;

    LFTF_TRY(parse_token_ids(&c, root, cfg));
    LFTF_TRY(get_string(&c, root, "torch_dtype", &dtype));
    if (!dtype)
        LFTF_TRY(get_string(&c, root, "dtype", &dtype));
    copy_str(cfg->torch_dtype, sizeof cfg->torch_dtype, dtype);
    return LFTF_OK;
}

int lftf__config_parse(const char *json, size_t len, const char *what, lftf_config *out)
{
    json_t *root;
    int rc;
    if (!out || (!json && len > 0))
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__config_parse: NULL argument");
    if (!what)
        what = "config.json";
    memset(out, 0, sizeof *out);
    LFTF_TRY(lftf__json_load_buffer(json ? json : "", len, what, &root));
    rc = parse_root(what, root, out);
    json_decref(root);
    if (rc != LFTF_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

int lftf__config_load(const char *path, lftf_config *out)
{
    char *data;
    size_t len;
    int rc;
    if (!path || !out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf__config_load: NULL argument");
    LFTF_TRY(lftf__read_file(path, &data, &len));
    rc = lftf__config_parse(data, len, path, out);
    free(data);
    return rc;
}
