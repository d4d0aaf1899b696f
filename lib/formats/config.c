/* config.json of the supported causal LMs (Llama, Mistral, Qwen2, Qwen3,
 * Gemma 2, Gemma 3 text, Phi-3), with the defaults transformers' config
 * classes apply when a field is absent. */
#include "formats/config.h"

#include "common/error.h"
#include "common/fsutil.h"
#include "common/jsonutil.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUPPORTED_ARCHS                                                                  \
    "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "          \
    "Gemma2ForCausalLM, Gemma3ForCausalLM, Phi3ForCausalLM"

typedef enum {
    FAMILY_LLAMA, FAMILY_MISTRAL, FAMILY_QWEN2, FAMILY_QWEN3, FAMILY_GEMMA2, FAMILY_GEMMA3,
    FAMILY_PHI3
} family;

/* What a family's transformers config class assumes when a field is absent. */
typedef struct family_info {
    const char *arch;           /* "architectures"[0] */
    const char *model_type;
    family fam;
    lftf_arch arch_id;
    int max_pos;                /* max_position_embeddings */
    double eps;                 /* rms_norm_eps */
    double theta;               /* rope_theta */
    int tied;                   /* tie_word_embeddings */
    int head_dim;               /* 0: hidden_size / num_attention_heads */
} family_info;

static const family_info families[] = {
    {"LlamaForCausalLM", "llama", FAMILY_LLAMA, LFTF_ARCH_LLAMA, 2048, 1e-6, 10000.0, 0, 0},
    /* Llama's math (sliding window aside, see sliding_window) */
    {"MistralForCausalLM", "mistral", FAMILY_MISTRAL, LFTF_ARCH_LLAMA, 131072, 1e-6, 10000.0, 0, 0},
    {"Qwen2ForCausalLM", "qwen2", FAMILY_QWEN2, LFTF_ARCH_QWEN2, 32768, 1e-6, 10000.0, 0, 0},
    {"Qwen3ForCausalLM", "qwen3", FAMILY_QWEN3, LFTF_ARCH_QWEN3, 32768, 1e-6, 10000.0, 0, 128},
    {"Gemma2ForCausalLM", "gemma2", FAMILY_GEMMA2, LFTF_ARCH_GEMMA2, 8192, 1e-6, 10000.0, 1, 256},
    {"Gemma3ForCausalLM", "gemma3_text", FAMILY_GEMMA3, LFTF_ARCH_GEMMA3, 131072, 1e-6, 1e6, 1,
     256},
    {"Phi3ForCausalLM", "phi3", FAMILY_PHI3, LFTF_ARCH_PHI3, 4096, 1e-5, 10000.0, 0, 0},
};

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

static int parse_arch(const ctx *c, const json_t *root, lftf_config *cfg,
                      const family_info **info)
{
    const json_t *archs = json_object_get(root, "architectures");
    const char *arch = NULL, *model_type = NULL;
    size_t n = sizeof families / sizeof families[0];

    LFTF_TRY(get_string(c, root, "model_type", &model_type));
    copy_str(cfg->model_type, sizeof cfg->model_type, model_type);
    if (archs && !json_is_null(archs)) {
        if (!json_is_array(archs) || json_array_size(archs) == 0 ||
            !json_is_string(json_array_get(archs, 0)))
            return field_err(c, "architectures", "must be a non-empty list of strings", archs);
        arch = json_string_value(json_array_get(archs, 0));
    } else if (model_type) {
        /* old configs name only the model type */
        for (size_t i = 0; i < n && !arch; i++)
            if (strcmp(model_type, families[i].model_type) == 0)
                arch = families[i].arch;
        if (!arch)
            return lftf__err(LFTF_E_UNSUPPORTED,
                             "%s: unsupported model_type '%s' (supported architectures: %s)",
                             c->what, model_type, SUPPORTED_ARCHS);
    } else {
        return lftf__err(LFTF_E_FORMAT,
                         "%s: neither \"architectures\" nor \"model_type\" is given", c->what);
    }
    /* the image-text Gemma 3 nests its text model's config in text_config */
    if (strcmp(arch, "Gemma3ForConditionalGeneration") == 0 ||
        (model_type && strcmp(model_type, "gemma3") == 0))
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: multimodal Gemma 3 checkpoints ('%s', model_type gemma3) are not "
                         "supported; use a text-only Gemma3ForCausalLM (model_type gemma3_text)",
                         c->what, arch);
    *info = NULL;
    for (size_t i = 0; i < n && !*info; i++)
        if (strcmp(arch, families[i].arch) == 0)
            *info = &families[i];
    if (!*info)
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: unsupported architecture '%s' (supported: %s)", c->what, arch,
                         SUPPORTED_ARCHS);
    cfg->arch = (*info)->arch_id;
    copy_str(cfg->architecture, sizeof cfg->architecture, arch);
    return LFTF_OK;
}

/* longrope's short_factor / long_factor: n positive numbers. */
static int get_factor_list(const ctx *c, const json_t *obj, const char *key, int n, double *out)
{
    json_t *v = json_object_get(obj, key), *x;
    size_t i;
    if (!v || json_is_null(v))
        return missing(c, key);
    if (!json_is_array(v))
        return field_err(c, key, "must be a list of numbers", v);
    if (json_array_size(v) != (size_t)n)
        return lftf__err(LFTF_E_FORMAT,
                         "%s: field \"%s.%s\" has %zu factors, expected %d (rotary dimension / 2)",
                         c->what, c->prefix, key, json_array_size(v), n);
    json_array_foreach(v, i, x) {
        if (!json_is_number(x) || !(json_number_value(x) > 0) || !isfinite(json_number_value(x)))
            return lftf__err(LFTF_E_FORMAT,
                             "%s: field \"%s.%s\": element %zu is not a positive number",
                             c->what, c->prefix, key, i);
        out[i] = json_number_value(x);
    }
    return LFTF_OK;
}

/* longrope (Phi-3 long-context models), as transformers'
 * _compute_longrope_parameters: the factors divide the frequencies, short
 * ones for sequences up to original_max_position_embeddings tokens, long
 * ones beyond; cos/sin are multiplied by the attention factor. */
static int parse_longrope(const ctx *c, const json_t *rs, const json_t *root, family fam,
                          lftf_config *cfg)
{
    ctx root_ctx = {c->what, NULL};
    double factor;
    int n = cfg->rotary_dim / 2;
    json_t *af = json_object_get(rs, "attention_factor");
    if (n > LFTF_CONFIG_MAX_ROPE_FACTORS)
        return lftf__err(LFTF_E_UNSUPPORTED, "%s: longrope with %d rotary frequencies (at most %d)",
                         c->what, n, LFTF_CONFIG_MAX_ROPE_FACTORS);
    cfg->rope_type = LFTF_ROPE_LONGROPE;
    cfg->n_rope_factors = n;
    LFTF_TRY(get_factor_list(c, rs, "short_factor", n, cfg->rope_short_factor));
    LFTF_TRY(get_factor_list(c, rs, "long_factor", n, cfg->rope_long_factor));
    /* Phi-3's config always has original_max_position_embeddings (4096 by
     * default) and then the factor is the ratio of the two lengths */
    if (fam == FAMILY_PHI3 || json_object_get(root, "original_max_position_embeddings")) {
        /* (transformers 5 may keep it in the rope parameters only) */
        int in_rs = 0;
        LFTF_TRY(get_int(c, rs, "original_max_position_embeddings", 0, 0, 1, &in_rs));
        LFTF_TRY(get_int(&root_ctx, root, "original_max_position_embeddings", 0,
                         in_rs ? in_rs : 4096, 1, &cfg->rope_original_max_position));
        factor = (double)cfg->max_position_embeddings / cfg->rope_original_max_position;
    } else {
        LFTF_TRY(get_int(c, rs, "original_max_position_embeddings", 0,
                         cfg->max_position_embeddings, 1, &cfg->rope_original_max_position));
        LFTF_TRY(get_positive(c, rs, "factor", 0, 1.0, &factor));
    }
    cfg->rope_factor = factor;
    if (af && !json_is_null(af))
        return get_positive(c, rs, "attention_factor", 1, 1.0, &cfg->rope_attention_factor);
    cfg->rope_attention_factor =
        factor <= 1.0 ? 1.0
                      : sqrt(1 + log(factor) / log((double)cfg->rope_original_max_position));
    return LFTF_OK;
}

static int parse_rope_scaling(const ctx *root_ctx, const json_t *rs, const char *field,
                              const json_t *root, family fam, lftf_config *cfg)
{
    ctx c = {root_ctx->what, field};
    const char *type = NULL;

    cfg->rope_type = LFTF_ROPE_DEFAULT;
    cfg->rope_factor = 1.0;
    cfg->rope_attention_factor = 1.0;
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
    if (strcmp(type, "longrope") == 0)
        return parse_longrope(&c, rs, root, fam, cfg);
    return lftf__err(LFTF_E_UNSUPPORTED,
                     "%s: field \"%s\": rope scaling type '%s' is not supported (supported: "
                     "default, linear, llama3, longrope)",
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

/* A positive number, absent -> def, null -> 0 (Gemma's soft-capping: null
 * switches it off). */
static int get_optional_positive(const ctx *c, const json_t *obj, const char *key, double def,
                                 double *out)
{
    json_t *v = json_object_get(obj, key);
    if (v && json_is_null(v)) {
        *out = 0;
        return LFTF_OK;
    }
    return get_positive(c, obj, key, 0, def, out);
}

/* Which layers attend through the sliding window: the config's layer_types,
 * or the family's rule when absent. */
static int parse_layer_types(const ctx *c, const json_t *root, const family_info *info,
                             int use_sliding_window, lftf_config *cfg)
{
    const json_t *lt = json_object_get(root, "layer_types");
    int L = cfg->num_hidden_layers, pattern = 0, max_window_layers = 0;
    /* the kinds matter for the window and for Gemma 3's local RoPE base */
    if (cfg->sliding_window == 0 && cfg->rope_local_theta == 0)
        return LFTF_OK;
    if (L > LFTF_CONFIG_MAX_LAYERS)
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: %d layers of different kinds (at most %d are supported)",
                         c->what, L, LFTF_CONFIG_MAX_LAYERS);
    if (lt && !json_is_null(lt)) {
        if (!json_is_array(lt) || json_array_size(lt) != (size_t)L)
            return lftf__err(LFTF_E_FORMAT,
                             "%s: field \"layer_types\" must be a list of %d strings (one per "
                             "layer)", c->what, L);
        for (int i = 0; i < L; i++) {
            const char *t = json_string_value(json_array_get(lt, (size_t)i));
            if (t && strcmp(t, "sliding_attention") == 0)
                cfg->layer_sliding[i] = 1;
            else if (!t || strcmp(t, "full_attention") != 0)
                return lftf__err(LFTF_E_UNSUPPORTED,
                                 "%s: field \"layer_types\": element %d is %s%s%s (supported: "
                                 "full_attention, sliding_attention)",
                                 c->what, i, t ? "'" : "not a string", t ? t : "", t ? "'" : "");
        }
        return LFTF_OK;
    }
    switch (info->fam) {
    case FAMILY_QWEN2:
    case FAMILY_QWEN3:
        /* Qwen: the layers from max_window_layers on */
        LFTF_TRY(get_int(c, root, "max_window_layers", 0, 28, 0, &max_window_layers));
        for (int i = 0; i < L; i++)
            cfg->layer_sliding[i] = use_sliding_window && i >= max_window_layers;
        break;
    case FAMILY_GEMMA2:
    case FAMILY_GEMMA3:
        /* Gemma 2 alternates (sliding first); Gemma 3 has one full layer
         * every sliding_window_pattern layers */
        pattern = 2;
        if (info->fam == FAMILY_GEMMA3)
            LFTF_TRY(get_int(c, root, "sliding_window_pattern", 0, 6, 1, &pattern));
        for (int i = 0; i < L; i++)
            cfg->layer_sliding[i] = (i + 1) % pattern != 0;
        break;
    default:
        /* Mistral, Phi-3: every layer */
        for (int i = 0; i < L; i++)
            cfg->layer_sliding[i] = 1;
        break;
    }
    return LFTF_OK;
}

/* rope_theta and rope scaling; Gemma 3 also has the local base of its
 * sliding layers.  transformers 5 moves them into rope_parameters (per
 * layer type on Gemma 3). */
static int parse_rope(const ctx *c, const json_t *root, const family_info *info,
                      lftf_config *cfg)
{
    const json_t *rope_params = json_object_get(root, "rope_parameters"), *rs;
    const json_t *local = NULL;
    const char *params_field = "rope_parameters";
    if (rope_params && !json_is_null(rope_params) && !json_is_object(rope_params))
        return field_err(c, "rope_parameters", "must be an object or null", rope_params);
    if (json_is_object(rope_params) && json_object_get(rope_params, "full_attention")) {
        local = json_object_get(rope_params, "sliding_attention");
        rope_params = json_object_get(rope_params, "full_attention");
        params_field = "rope_parameters.full_attention";
        if (!json_is_object(rope_params))
            return field_err(c, params_field, "must be an object", rope_params);
    }
    if (json_object_get(root, "rope_theta") || !json_is_object(rope_params)) {
        LFTF_TRY(get_positive(c, root, "rope_theta", 0, info->theta, &cfg->rope_theta));
    } else {
        ctx pc = {c->what, params_field};
        LFTF_TRY(get_positive(&pc, rope_params, "rope_theta", 0, info->theta, &cfg->rope_theta));
    }
    rs = json_object_get(root, "rope_scaling");
    if (rs && !json_is_null(rs))
        LFTF_TRY(parse_rope_scaling(c, rs, "rope_scaling", root, info->fam, cfg));
    else
        LFTF_TRY(parse_rope_scaling(c, rope_params, params_field, root, info->fam, cfg));

    if (info->fam == FAMILY_GEMMA3) {
        if (json_is_object(local)) {
            ctx lc = {c->what, "rope_parameters.sliding_attention"};
            const char *type = NULL;
            LFTF_TRY(get_string(&lc, local, "rope_type", &type));
            if (type && strcmp(type, "default") != 0)
                return lftf__err(LFTF_E_UNSUPPORTED,
                                 "%s: rope scaling '%s' on sliding layers is not supported",
                                 c->what, type);
            LFTF_TRY(get_positive(&lc, local, "rope_theta", 0, 10000.0, &cfg->rope_local_theta));
        } else {
            LFTF_TRY(get_positive(c, root, "rope_local_base_freq", 0, 10000.0,
                                  &cfg->rope_local_theta));
        }
    }
    return LFTF_OK;
}

static int parse_root(const char *what, const json_t *root, lftf_config *cfg)
{
    ctx c = {what, NULL};
    const family_info *info = NULL;
    const char *act = NULL, *dtype = NULL;
    int use_sw = 0, sw = 0, gemma, attention_bias = 0;
    double partial_rotary = 1.0, query_pre_attn_scalar = 0;

    if (!json_is_object(root))
        return lftf__err(LFTF_E_FORMAT, "%s: the config is not a JSON object", what);
    LFTF_TRY(parse_arch(&c, root, cfg, &info));
    gemma = info->fam == FAMILY_GEMMA2 || info->fam == FAMILY_GEMMA3;
    if (json_object_get(root, "quantization_config") &&
        !json_is_null(json_object_get(root, "quantization_config")))
        return lftf__err(LFTF_E_UNSUPPORTED,
                         "%s: quantized checkpoints (\"quantization_config\") are not supported",
                         what);

    /* Gemma's MLP reads hidden_activation (hidden_act is ignored there) */
    LFTF_TRY(get_string(&c, root, gemma ? "hidden_activation" : "hidden_act", &act));
    if (gemma) {
        cfg->act = LFTF_ACT_GELU_TANH;
        if (act && strcmp(act, "gelu_pytorch_tanh") != 0)
            return lftf__err(LFTF_E_UNSUPPORTED,
                             "%s: field \"hidden_activation\" is '%s'; only "
                             "'gelu_pytorch_tanh' is supported", what, act);
    } else {
        cfg->act = LFTF_ACT_SILU;
        if (act && strcmp(act, "silu") != 0)
            return lftf__err(LFTF_E_UNSUPPORTED,
                             "%s: field \"hidden_act\" is '%s'; only 'silu' is supported", what,
                             act);
    }

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
    LFTF_TRY(get_int(&c, root, "head_dim", 0, info->head_dim, 1, &cfg->head_dim));
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
    if ((long long)cfg->num_attention_heads * cfg->head_dim > INT_MAX / 4 ||
        (long long)cfg->intermediate_size * 2 > INT_MAX)
        return lftf__err(LFTF_E_FORMAT, "%s: num_attention_heads x head_dim overflows", what);
    /* Phi-3 rotates the first partial_rotary_factor of each head */
    cfg->rotary_dim = cfg->head_dim;
    if (info->fam == FAMILY_PHI3) {
        LFTF_TRY(get_positive(&c, root, "partial_rotary_factor", 0, 1.0, &partial_rotary));
        if (partial_rotary > 1.0)
            return lftf__err(LFTF_E_FORMAT, "%s: field \"partial_rotary_factor\" is %g (> 1)",
                             what, partial_rotary);
        cfg->rotary_dim = (int)(cfg->head_dim * partial_rotary);
        if (cfg->rotary_dim < 2 || cfg->rotary_dim % 2 != 0)
            return lftf__err(LFTF_E_FORMAT,
                             "%s: rotary dimension %d (head_dim %d x partial_rotary_factor %g) "
                             "is not a positive even number", what, cfg->rotary_dim,
                             cfg->head_dim, partial_rotary);
    }
    LFTF_TRY(get_int(&c, root, "vocab_size", 1, 0, 1, &cfg->vocab_size));

    LFTF_TRY(get_int(&c, root, "max_position_embeddings", 0, info->max_pos, 1,
                     &cfg->max_position_embeddings));
    LFTF_TRY(get_positive(&c, root, "rms_norm_eps", 0, info->eps, &cfg->rms_norm_eps));
    LFTF_TRY(parse_rope(&c, root, info, cfg));

    LFTF_TRY(get_bool(&c, root, "tie_word_embeddings", info->tied, &cfg->tie_word_embeddings));
    switch (info->fam) {
    case FAMILY_LLAMA:
        LFTF_TRY(get_bool(&c, root, "attention_bias", 0, &attention_bias));
        LFTF_TRY(get_bool(&c, root, "mlp_bias", 0, &cfg->mlp_bias));
        cfg->qkv_bias = cfg->o_bias = attention_bias;
        break;
    case FAMILY_MISTRAL:
    case FAMILY_PHI3:
        /* their attention and MLP have no biases whatever the config says */
        cfg->qkv_bias = cfg->o_bias = cfg->mlp_bias = 0;
        LFTF_TRY(get_int(&c, root, "sliding_window", 0, info->fam == FAMILY_MISTRAL ? 4096 : 0,
                         0, &sw));
        if (json_is_null(json_object_get(root, "sliding_window")))
            sw = 0;
        cfg->fused_qkv = cfg->fused_gate_up = info->fam == FAMILY_PHI3;
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
    case FAMILY_QWEN3:
    case FAMILY_GEMMA2:
    case FAMILY_GEMMA3:
        /* attention_bias covers q/k/v/o; the MLP has none */
        LFTF_TRY(get_bool(&c, root, "attention_bias", 0, &attention_bias));
        cfg->qkv_bias = cfg->o_bias = attention_bias;
        cfg->mlp_bias = 0;
        cfg->qk_norm = info->fam != FAMILY_GEMMA2;
        if (info->fam == FAMILY_QWEN3) {
            LFTF_TRY(get_bool(&c, root, "use_sliding_window", 0, &use_sw));
            if (use_sw)
                LFTF_TRY(get_int(&c, root, "sliding_window", 0, 4096, 1, &sw));
            break;
        }
        LFTF_TRY(get_int(&c, root, "sliding_window", 0, 4096, 0, &sw));
        if (json_is_null(json_object_get(root, "sliding_window")))
            sw = 0;
        break;
    }
    cfg->sliding_window = sw > 0 && sw < cfg->max_position_embeddings ? sw : 0;
    LFTF_TRY(parse_layer_types(&c, root, info, use_sw, cfg));

    /* Gemma: sqrt(hidden)-scaled embeddings, (1 + w) norms, four norms a
     * block, scores scaled by query_pre_attn_scalar, optional soft-capping
     * (on by default on Gemma 2) */
    cfg->attn_scale = 1.0 / sqrt((double)cfg->head_dim);
    if (gemma) {
        cfg->norm_plus_one = cfg->sandwich_norms = 1;
        cfg->embed_scale = sqrt((double)cfg->hidden_size);
        LFTF_TRY(get_positive(&c, root, "query_pre_attn_scalar", 0, 256, &query_pre_attn_scalar));
        cfg->attn_scale = 1.0 / sqrt(query_pre_attn_scalar);
        LFTF_TRY(get_optional_positive(&c, root, "attn_logit_softcapping",
                                       info->fam == FAMILY_GEMMA2 ? 50.0 : 0, &cfg->attn_softcap));
        LFTF_TRY(get_optional_positive(&c, root, "final_logit_softcapping",
                                       info->fam == FAMILY_GEMMA2 ? 30.0 : 0,
                                       &cfg->final_softcap));
    }

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
