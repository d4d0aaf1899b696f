#include "common/jsonutil.h"

#include "common/error.h"
#include "common/fsutil.h"

#include <stdlib.h>

int lftf__json_load_buffer(const char *data, size_t len, const char *what, json_t **out)
{
    json_error_t err;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!j)
        return lftf__err(LFTF_E_FORMAT, "%s:%d:%d: malformed JSON: %s", what, err.line,
                         err.column, err.text);
    *out = j;
    return LFTF_OK;
}

int lftf__json_load_file(const char *path, json_t **out)
{
    char *data;
    size_t len;
    int rc;
    LFTF_TRY(lftf__read_file(path, &data, &len));
    rc = lftf__json_load_buffer(data, len, path, out);
    free(data);
    return rc;
}
