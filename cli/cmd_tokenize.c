/* STUB: replaced by the module that implements this command. */
#include "commands.h"
#include <stdio.h>
int cmd_tokenize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lftf: this command is not implemented yet\n");
    return 1;
}
