/* Log-likelihood of continuations and rolling log-likelihood, with
 * lm-evaluation-harness semantics (work in progress: declarations first). */
#include "model/model_internal.h"

#include "common/error.h"

#include <string.h>

int lftf_ll_params_init(lftf_ll_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_ll_params_init: NULL params");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->add_bos = -1;
    params->batch_size = 16;
    return LFTF_OK;
}

int lftf_model_loglikelihood(lftf_model *model, const char *const *contexts,
                             const char *const *continuations, size_t n,
                             const lftf_ll_params *params, lftf_ll_result *results)
{
    (void)model; (void)contexts; (void)continuations; (void)n; (void)params; (void)results;
    return lftf__err(LFTF_E_UNSUPPORTED, "lftf_model_loglikelihood: not implemented yet");
}

int lftf_model_loglikelihood_rolling(lftf_model *model, const char *const *texts, size_t n,
                                     const lftf_ll_params *params, lftf_rolling_result *results)
{
    (void)model; (void)texts; (void)n; (void)params; (void)results;
    return lftf__err(LFTF_E_UNSUPPORTED, "lftf_model_loglikelihood_rolling: not implemented yet");
}

int lftf_generate_params_init(lftf_generate_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_generate_params_init: NULL params");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->max_new_tokens = 32;
    params->batch_size = 16;
    return LFTF_OK;
}

int lftf_model_generate(lftf_model *model, const char *const *prompts, size_t n,
                        const lftf_generate_params *params, char **texts, int32_t **ids,
                        size_t *n_ids)
{
    (void)model; (void)prompts; (void)n; (void)params; (void)texts; (void)ids; (void)n_ids;
    return lftf__err(LFTF_E_UNSUPPORTED, "lftf_model_generate: not implemented yet");
}
