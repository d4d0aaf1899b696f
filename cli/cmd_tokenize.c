/* lftf tokenize: encode texts with a Hugging Face tokenizer.json and print
 * the ids and token strings as JSON lines. */
#include "cli_util.h"
#include "commands.h"
#include "options.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lftf tokenize --tokenizer PATH [--no-special] [--] [TEXT...]\n\n"
            "Encodes each TEXT (each line of standard input when no TEXT is given) with\n"
            "the tokenizer at PATH (a tokenizer.json, or a model directory holding one;\n"
            "a tokenizer_config.json beside it is read too; or a GGUF file, whose\n"
            "tokenizer.ggml.* metadata is read) and prints one JSON line per\n"
            "text: {\"text\": ..., \"ids\": [...], \"tokens\": [...]}.\n\n"
            "  --no-special   do not add the special tokens (BOS) of the post-processor\n");
}

/* Prints the JSON line of one text; returns a status. */
static int tokenize_one(const lftf_tokenizer *tok, const char *text, size_t len, int add_special)
{
    int32_t *ids = NULL;
    size_t n = 0;
    json_t *obj, *jids, *jtoks;
    char *line;
    int rc = lftf_tokenizer_encode(tok, text, len, add_special, &ids, &n);
    if (rc != LFTF_OK)
        return rc;
    obj = json_object();
    jids = json_array();
    jtoks = json_array();
    json_object_set_new(obj, "text", json_stringn(text, len));
    for (size_t i = 0; i < n; i++) {
        const char *t = lftf_tokenizer_token(tok, ids[i]);
        json_array_append_new(jids, json_integer(ids[i]));
        json_array_append_new(jtoks, t ? json_string(t) : json_null());
    }
    json_object_set_new(obj, "ids", jids);
    json_object_set_new(obj, "tokens", jtoks);
    line = json_dumps(obj, JSON_PRESERVE_ORDER);
    json_decref(obj);
    lftf_free(ids);
    if (!line) {
        fprintf(stderr, "lftf tokenize: out of memory\n");
        return LFTF_E_NOMEM;
    }
    printf("%s\n", line);
    free(line);
    return LFTF_OK;
}

enum { OPT_TOKENIZER = CLI_OPT_OWN, OPT_NO_SPECIAL };
static const struct option own_options[] = {
    {"tokenizer", required_argument, NULL, OPT_TOKENIZER},
    {"no-special", no_argument, NULL, OPT_NO_SPECIAL},
    {NULL, 0, NULL, 0},
};
static const cli_command spec = {"tokenize", usage, 0, own_options, CLI_ARGS_TRAILING};

int cmd_tokenize(int argc, char **argv)
{
    const char *cmd = spec.name, *path = NULL;
    lftf_tokenizer *tok = NULL;
    cli_parser p;
    int add_special = 1, first_text, c, rc = LFTF_OK;

    if (cli_parser_init(&p, &spec, argc, argv, NULL, NULL, NULL))
        return 1;
    while ((c = cli_next(&p)) > 0) {
        if (c == OPT_NO_SPECIAL)
            add_special = 0;
        else if (!(path = p.arg))
            return cli_usage(cmd, "--tokenizer needs a path");
    }
    if (c < 0)
        return p.status;
    first_text = p.first_arg;
    if (!path)
        return cli_usage(cmd, "--tokenizer is required");
    if ((rc = lftf_tokenizer_load(&tok, path, NULL)) != LFTF_OK)
        return cli_fail(cmd, path, rc);

    if (first_text < argc) {
        for (int i = first_text; i < argc && rc == LFTF_OK; i++)
            if ((rc = tokenize_one(tok, argv[i], strlen(argv[i]), add_special)) != LFTF_OK)
                cli_fail(cmd, "encoding a text", rc);
    } else {
        char *line = NULL;
        size_t cap = 0;
        long n;
        while (rc == LFTF_OK && (n = (long)getline(&line, &cap, stdin)) >= 0) {
            size_t len = (size_t)n;
            if (len > 0 && line[len - 1] == '\n')
                len--;
            if (len > 0 && line[len - 1] == '\r')
                len--;
            if ((rc = tokenize_one(tok, line, len, add_special)) != LFTF_OK)
                cli_fail(cmd, "encoding a line of standard input", rc);
        }
        free(line);
    }
    lftf_tokenizer_free(tok);
    return rc == LFTF_OK ? 0 : 1;
}
