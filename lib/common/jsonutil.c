#include "common/jsonutil.h"

#include "common/error.h"
#include "common/fsutil.h"

#include <math.h>
#include <stdlib.h>

int lftf__json_load_buffer_flags(const char *data, size_t len, const char *what, size_t flags,
                                 json_t **out)
{
    json_error_t err;
    json_t *j = json_loadb(data, len, flags, &err);
    if (!j)
        return lftf__err(LFTF_E_FORMAT, "%s:%d:%d: malformed JSON: %s", what, err.line,
                         err.column, err.text);
    *out = j;
    return LFTF_OK;
}

int lftf__json_load_buffer(const char *data, size_t len, const char *what, json_t **out)
{
    return lftf__json_load_buffer_flags(data, len, what, LFTF_JSON_DEFAULT_FLAGS, out);
}

int lftf__json_load_file_flags(const char *path, size_t flags, json_t **out)
{
    char *data;
    size_t len;
    int rc;
    LFTF_TRY(lftf__read_file(path, &data, &len));
    rc = lftf__json_load_buffer_flags(data, len, path, flags, out);
    free(data);
    return rc;
}

int lftf__json_load_file(const char *path, json_t **out)
{
    return lftf__json_load_file_flags(path, LFTF_JSON_DEFAULT_FLAGS, out);
}

json_t *lftf__json_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }
