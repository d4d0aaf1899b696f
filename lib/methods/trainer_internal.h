/* Trainer internals for lib/methods/sweep.c: saving and putting back the
 * trained weights, and restarting a trainer for another grid point while it
 * keeps its prefix caches and retain cache. */
#ifndef LFTF_TRAINER_INTERNAL_H
#define LFTF_TRAINER_INTERNAL_H

#include "lftf.h"

typedef struct lftf__weights lftf__weights;

/* Copies of the trainer's trainable weights (and their "modified" flags). */
int lftf__trainer_weights_take(lftf_trainer *tr, lftf__weights **out);
/* Copies them back into the model's weights they were taken from (valid
 * while the model lives, with or without the trainer). */
void lftf__weights_put(const lftf__weights *w);
void lftf__weights_free(lftf__weights *w);
/* A fresh start: new Adam state with `lr`, the objective and retain weight
 * set, history and counters cleared; the weights are not touched and the
 * caches stay. */
int lftf__trainer_restart(lftf_trainer *tr, double lr, lftf_objective objective,
                          double retain_weight);
/* 1 when the trainer has a retain text. */
int lftf__trainer_has_retain(const lftf_trainer *tr);

#endif
