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
/* Called by lftf_trainer_fit after each epoch's evaluation (epoch 1-based,
 * its dev AFGB and UB); non-zero stops the fit with that status, restoring
 * the weights.  NULL clears it. */
typedef int (*lftf__epoch_hook)(void *user, lftf_trainer *tr, int epoch, double dev_afgb,
                                double dev_ub);
void lftf__trainer_set_epoch_hook(lftf_trainer *tr, lftf__epoch_hook fn, void *user);
/* The retain KL measured after the last epoch (NaN without a retain text). */
double lftf__trainer_last_retain_kl(const lftf_trainer *tr);
/* The trainer's settings (lr, objective, retain weight, ...). */
const lftf_trainer_params *lftf__trainer_params(const lftf_trainer *tr);
/* The trainer's model. */
lftf_model *lftf__trainer_model(const lftf_trainer *tr);
/* 1 when the trainer has a retain text. */
int lftf__trainer_has_retain(const lftf_trainer *tr);

#endif
