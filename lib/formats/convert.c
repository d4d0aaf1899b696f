/* lftf_convert: HF directory <-> GGUF file without the compute library. */
#include "lftf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "formats/gguf.h"
#include "formats/gguf_export.h"
#include "formats/gguf_import.h"

#include <stddef.h>
#include <string.h>

int lftf_gguf_type_parse(const char *name, lftf_gguf_type *out)
{
    int t;
    if (!out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_gguf_type_parse: out is NULL");
    LFTF_TRY(lftf__gguf_export_type_parse(name, &t));
    *out = (lftf_gguf_type)t;
    return LFTF_OK;
}

int lftf_convert_params_init(lftf_convert_params *params)
{
    if (!params)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_convert_params_init: params is NULL");
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->to = LFTF_SAVE_GGUF;
    params->gguf_type = LFTF_GGUF_TYPE_SAME;
    params->hf_dtype = LFTF_DTYPE_F32;
    return LFTF_OK;
}

int lftf_convert(const char *in, const char *out, const lftf_convert_params *params)
{
    lftf_convert_params p;
    if (!in || !out || !*in || !*out)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_convert: in or out is NULL");
    lftf_convert_params_init(&p);
    LFTF_TRY(lftf__params_resolve(params, &p, offsetof(lftf_convert_params, progress_user) +
                                  sizeof(void *), sizeof p, "lftf_convert_params"));
    if (lftf__same_file(in, out))
        return lftf__err(LFTF_E_EXISTS, "refusing to overwrite the input '%s'", in);
    if (p.to == LFTF_SAVE_GGUF) {
        lftf_gguf_export x = {p.gguf_type, p.overwrite, NULL, 0, p.progress, p.progress_user};
        if (!lftf__is_dir(in))
            return lftf__gguf_export_gguf(in, out, &x);
        return lftf__gguf_export_hf_dir(in, out, &x);
    }
    if (p.to != LFTF_SAVE_HF)
        return lftf__err(LFTF_E_INVALID_ARG, "lftf_convert: unknown target format %d", (int)p.to);
    if (lftf__is_dir(in))
        return lftf__err(LFTF_E_INVALID_ARG, "'%s' is a directory already (Hugging Face); "
                         "converting to HF needs a .gguf file", in);
    return lftf__gguf_import_hf_dir(in, out, p.hf_dtype, NULL, 0, p.overwrite, p.progress,
                                    p.progress_user);
}
