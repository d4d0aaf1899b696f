/* STUB: to be written. */
typedef int lftf__placeholder_t;
