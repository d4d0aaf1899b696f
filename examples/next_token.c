/* Prints the next-token probabilities of " he" and " she" after a prompt.
 *
 *   cc next_token.c $(pkg-config --cflags --libs lftf) -o next_token
 *   ./next_token MODEL_DIR "The nurse smiled because"
 */
#include <lftf.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    const char *targets[] = {" he", " she"};
    lftf_model *model = NULL;
    double probs[2];
    int rc;

    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL_DIR PROMPT\n", argv[0]);
        return 2;
    }
    if (lftf_version_number() / 10000 != LFTF_VERSION_MAJOR) {
        fprintf(stderr, "liblftf %s does not match the header %s\n", lftf_version(),
                LFTF_VERSION_STRING);
        return 1;
    }
    rc = lftf_model_load(&model, argv[1], NULL);
    if (rc == LFTF_OK)
        rc = lftf_model_target_probs(model, (const char *const *)&argv[2], 1, targets, 2, NULL,
                                     probs, NULL, NULL);
    if (rc != LFTF_OK) {
        fprintf(stderr, "error: %s: %s\n", lftf_status_str(rc), lftf_last_error());
        lftf_model_free(model);
        return 1;
    }
    printf("P(\" he\" | prompt) = %.6f\nP(\" she\" | prompt) = %.6f\n", probs[0], probs[1]);
    lftf_model_free(model);
    return 0;
}
