/* The model inside liblftf: struct lftf_model and the pieces of the forward
 * pass, so that probs.c, locate.c and trainer.c compose the transformer
 * themselves from the same building blocks (lib/model/model.c).
 *
 * Shapes: B prompts (rows) right-padded to T tokens, D = hidden_size,
 * V = vocab_size.  Real tokens of row b are positions 0..len[b]-1; under the
 * causal mask they never attend to the padding after them, so padding needs
 * no mask of its own (padding positions carry garbage that nobody reads).
 *
 * Hidden states are in the compute dtype; logits and log-probs are float32.
 * Every function records autograd history when grad mode is on
 * (lt_grad_set_enabled) and a weight requires grad. */
#ifndef LFTF_MODEL_INTERNAL_H
#define LFTF_MODEL_INTERNAL_H

#include "lftf.h"

#include "formats/config.h"
#include "formats/safetensors.h"
#include "torch/shim.h"

#include <stddef.h>
#include <stdint.h>

/* The weights of one block, in a fixed order (LFTF_P_*). */
typedef enum lftf_param_kind {
    LFTF_P_INPUT_NORM = 0, /* model.layers.i.input_layernorm.weight */
    LFTF_P_Q_W,            /* model.layers.i.self_attn.q_proj.weight */
    LFTF_P_Q_B,            /*   .bias (qkv_bias) */
    LFTF_P_K_W,
    LFTF_P_K_B,
    LFTF_P_V_W,
    LFTF_P_V_B,
    LFTF_P_O_W,
    LFTF_P_O_B,            /*   o_proj.bias (attention_bias on Llama only) */
    LFTF_P_POST_NORM,      /* model.layers.i.post_attention_layernorm.weight */
    LFTF_P_GATE_W,         /* model.layers.i.mlp.gate_proj.weight */
    LFTF_P_GATE_B,         /*   .bias (mlp_bias) */
    LFTF_P_UP_W,
    LFTF_P_UP_B,
    LFTF_P_DOWN_W,
    LFTF_P_DOWN_B,
    /* model families (absent elsewhere): */
    LFTF_P_Q_NORM,         /* self_attn.q_norm.weight [head_dim] (qk_norm: Qwen3, Gemma 3) */
    LFTF_P_K_NORM,         /* self_attn.k_norm.weight */
    LFTF_P_PRE_FF_NORM,    /* pre_feedforward_layernorm.weight (sandwich_norms: Gemma) */
    LFTF_P_POST_FF_NORM,   /* post_feedforward_layernorm.weight */
    LFTF_P_QKV_W,          /* self_attn.qkv_proj.weight [q; k; v] (fused_qkv: Phi-3;
                              then Q/K/V_W are absent) */
    LFTF_P_GATE_UP_W,      /* mlp.gate_up_proj.weight [gate; up] (fused_gate_up: Phi-3;
                              then GATE/UP_W are absent) */
    /* fused at load (lib/model/fuse.c): never in the files */
    LFTF_P_QKV_B,          /* [q; k; v] biases (qkv_bias) */
    LFTF_P_GATE_UP_B,      /* [gate; up] biases (mlp_bias) */
    LFTF_P_BLOCK_COUNT
} lftf_param_kind;

/* One weight tensor of the model.  The q/k/v and gate/up projections of a
 * resident block are fused at load (lib/model/fuse.c): the QKV_W / GATE_UP_W
 * (and _B) slot then holds [q; k; v] / [gate; up] in one tensor (name, t;
 * src NULL: not in the files) and the parts' slots keep their name and src
 * for saving, with t NULL (lftf__param_holder finds their values). */
typedef struct lftf_param {
    char *name;                 /* Hugging Face name, as in the safetensors file */
    int block;                  /* block index, or -1 for embed / final norm / lm_head */
    int kind;                   /* lftf_param_kind for block weights, -1 otherwise */
    unsigned module;            /* LFTF_MODULE_ATTN / _MLP / _NORM; 0 outside blocks */
    lt_tensor *t;               /* compute dtype, on the model's device */
    const lftf_st_tensor *src;  /* its entry in model->st (source dtype, shape, bytes) */
    int borrowed;               /* t wraps the read-only file mapping: never write to it
                                   (lftf__model_make_trainable clones it first) */
    int modified;               /* set by whoever changed t (the saver writes only these
                                   as new bytes and copies the rest byte for byte) */
} lftf_param;

#define LFTF_MAX_DEVICES 16

/* Default prompts per forward pass for the short-prompt work (probabilities,
 * evaluation, BMI locating, the trainer's evaluations).  Prefix-shared
 * batches of 16 GenBiasEval prompts have only ~94 token rows, too few to
 * amortise BLAS packing each weight per product; 32 ran the bench model's
 * evaluation ~17% faster for ~5% more peak memory (README, issue 14). */
#define LFTF_PROMPT_BATCH 32
/* Default sequences per forward pass for the long-sequence engines
 * (log-likelihood, generation, the bias suites). */
#define LFTF_SEQUENCE_BATCH 16
/* Default sequences per forward pass of the bias suites: their prompts are
 * short (WinoBias ~25 tokens, the professions' ~6), and on SmolLM2-135M the
 * 3,520 professions prompts took 40% less CPU at 64 than at 16 (WinoBias
 * ~6% less); docs/benchmarks-real-model.md. */
#define LFTF_BIAS_BATCH 64

struct lftf_model {
    char *dir;                  /* the model directory */
    lftf_config cfg;
    lftf_tokenizer *tok;
    lftf_st_set *st;            /* kept mapped for the model's lifetime */
    lt_device device;           /* the first device: embedding, final norm, head */
    char device_str[256];       /* canonical: "cpu", "cuda:0", "cuda:0,cuda:1" */
    /* several devices (lib/model/placement.c): block i lives on
     * devices[block_dev[i]] */
    int n_devices;
    lt_device devices[LFTF_MAX_DEVICES];
    int *block_dev;
    lt_dtype dtype;             /* compute dtype */
    lftf_dtype dtype_pub;       /* the same as the public enum */
    lftf_dtype weight_dtype;    /* dtype on disk (of embed_tokens) */
    /* Every weight: [0] embed, then n_layers * LFTF_P_BLOCK_COUNT slots (absent
     * biases have name == NULL and t == NULL), then the final norm, then
     * lm_head (present only when the head is untied).  Use the accessors. */
    lftf_param *params;
    size_t n_param_slots;
    /* Residency (lib/model/residency.c): block_streamed[i] = 1 when block i's
     * weights are not kept in memory between uses (NULL: every block resident);
     * block_present[i] = 1 while they are in memory. */
    unsigned char *block_streamed;
    unsigned char *block_present;
    int streaming;              /* some block is streamed */
    size_t budget;              /* the memory budget in force (0: none) */
    size_t fixed_bytes, max_block_bytes;
    /* block-major log-likelihoods (issue 13): counts that tests read to check
     * how often streamed blocks are converted (residency.c) and how many
     * block-major passes ran (runner.c) */
    size_t n_block_conversions, n_block_major_passes;
    lt_tensor *inv_freq;        /* [rotary_dim/2] float32 on the device (rope scaling
                                   applied; longrope: the short factors) */
    lt_tensor *inv_freq_long;   /* longrope: the long factors' (else NULL) */
    lt_tensor *inv_freq_local;  /* Gemma 3: sliding layers' (rope_local_theta, else NULL) */
    /* Rotary tables of positions 0..rope_len-1 for inv_freq, inv_freq_long,
     * inv_freq_local (cos, sin; compute dtype, first device): batches take
     * views of their first T rows, so the tables are computed once per
     * length, not per batch.  Grown (recomputed) when a longer batch comes;
     * the model is used by one thread at a time (include/lftf.h). */
    lt_tensor *rope_cos[3], *rope_sin[3];
    int64_t rope_len[3];
    int64_t n_params;           /* parameter count, a tied embedding counted once */
    int fuse;                   /* fuse q/k/v and gate/up when blocks come into memory
                                   (lib/model/fuse.c; off: lftf__model_load_unfused) */
};

/* ---- scratch: the temporaries of one composed computation ------------------ */

/* The forward creates many short-lived tensors; a scratch list frees them all
 * at the end of a function, whatever path it leaves by. */
typedef struct lftf_scratch {
    lt_tensor *t[64];
    int n;
} lftf_scratch;

static inline void lftf__scratch_free(lftf_scratch *s)
{
    lt_free_n(s->t, (size_t)s->n);
    s->n = 0;
}

/* Runs `call` (which stores a new tensor in `var`), keeping var in the
 * scratch list; jumps to `done` with rc set on failure. */
#define LFTF_OP(s, var, call)                                            \
    do {                                                               \
        rc = (call);                                                   \
        if (rc != LFTF_OK)                                             \
            goto done;                                                 \
        if ((s)->n >= (int)(sizeof (s)->t / sizeof (s)->t[0])) {       \
            lt_free(var);                                              \
            rc = lftf__err(LFTF_E_NOMEM, "scratch full");              \
            goto done;                                                 \
        }                                                              \
        (s)->t[(s)->n++] = (var);                                      \
    } while (0)

/* ---- weights --------------------------------------------------------------- */

/* The slot of block i's weight of a kind (name NULL if absent; t NULL while
 * a streamed block is not present): no side effects. */
lftf_param *lftf__model_block_slot(const lftf_model *m, int block, int kind);
/* Block i's weight of a kind, or NULL if absent (biases the config lacks).
 * A streamed block is made resident (pinned) first: callers may change it. */
lftf_param *lftf__model_block_param(lftf_model *m, int block, lftf_param_kind kind);
lftf_param *lftf__model_embed(lftf_model *m);
lftf_param *lftf__model_final_norm_param(lftf_model *m);
/* The LM head's weight: lm_head.weight, or the embedding when tied (then
 * training the embedding trains the head too: they are one tensor). */
lt_tensor *lftf__model_head_weight(const lftf_model *m);
/* Collects the present weights of block i that belong to `modules`
 * (LFTF_MODULE_* bits) into out (room for LFTF_P_BLOCK_COUNT); returns n. */
size_t lftf__model_block_params(lftf_model *m, int block, unsigned modules, lftf_param **out);
/* Makes block i's weights of `modules` trainable: tensors that wrap the file
 * mapping are replaced by owned copies (same values; p->t becomes a new
 * handle, so call this before taking aliases or creating the optimizer), and
 * requires_grad is set on them.  lftf__model_freeze_block clears it again. */
int lftf__model_make_trainable(lftf_model *m, int block, unsigned modules);
/* Clears requires_grad on every weight of block i and drops their gradients
 * (the weights keep their current, possibly trained, values). */
int lftf__model_freeze_block(lftf_model *m, int block);
/* The same as make_trainable for a non-block weight (embedding, final norm,
 * untied head): full-parameter fine-tuning. */
int lftf__param_make_trainable(lftf_param *p);
/* A weight's current values in its source dtype (as on disk), for saving:
 * *data is malloc'd (free()), *nbytes == p->src->nbytes.  A part of a fused
 * weight gives its rows of it; a weight fused at load (no src) the
 * concatenation of its parts' bytes. */
int lftf__param_source_bytes(const lftf_param *p, void **data, size_t *nbytes);

/* Converts a weight from its file (p->src) to the compute dtype on the
 * model's device, unless it is present already (or held by its fused
 * weight). */
int lftf__param_materialize(lftf_model *m, lftf_param *p);
/* 1 when p's tensor can wrap the file mapping without a copy (source dtype =
 * compute dtype, CPU, aligned). */
int lftf__param_wraps_file(const lftf_model *m, const lftf_param *p);
/* The conversion itself, into *t (*borrowed = 1: t wraps the mapping). */
int lftf__param_load_tensor(const lftf_model *m, const lftf_param *p, lt_tensor **t, int *borrowed);

/* ---- fused projections (lib/model/fuse.c) ---------------------------------- */

/* The fused slot kind whose rows hold `kind` (Q/K/V_W -> QKV_W, Q/K/V_B ->
 * QKV_B, GATE/UP_W -> GATE_UP_W, GATE/UP_B -> GATE_UP_B) with its first row
 * and row count there; -1 when kind is no part of a fused weight. */
int lftf__fused_kind(const lftf_config *c, int kind, int64_t *row0, int64_t *rows);
/* Concatenates block i's q/k/v and gate/up weights and biases into one tensor
 * per group (m->fuse; parts read from the files, or from their tensors when
 * in memory and not trained, which are then freed): fewer, larger products
 * in the forward, never a second copy kept.  Resident blocks at load,
 * streamed ones each time they come into memory. */
int lftf__model_fuse_block(lftf_model *m, int i);
/* Splits the group holding `kind` (weights and biases) of block i back into
 * its parts (owned tensors, `modified` kept): for callers that change one
 * part by name.  LFTF_E_INVALID_ARG while the fused weight is trained. */
int lftf__model_unfuse(lftf_model *m, int i, int kind);
/* The slot whose tensor holds p's values: p when p->t, the fused weight when
 * p is one of its parts, NULL when neither is in memory. */
const lftf_param *lftf__param_holder(const lftf_param *p);
/* lftf__param_source_bytes of a part of a fused weight or of a weight fused
 * at load (called by it). */
int lftf__fused_source_bytes(const lftf_param *p, void **data, size_t *nbytes);
/* Loads without fusing (tests compare both ways). */
int lftf__model_load_unfused(lftf_model **out, const char *dir, const lftf_model_params *params);

/* ---- residency: weights in memory under a budget (lib/model/residency.c) ---- */

/* Decides, from the budgets (0: none), which blocks stay resident (the last
 * ones, which training and the prefix cache use most) and which are streamed.
 * LFTF_E_RANGE when the budget cannot hold the fixed weights plus one block. */
int lftf__model_plan_residency(lftf_model *m, size_t max_memory, size_t max_device_memory);
/* Makes block i's weights present (a no-op for resident blocks); *entered
 * tells lftf__model_block_leave whether to release them again. */
int lftf__model_block_enter(const lftf_model *m, int i, int *entered);
void lftf__model_block_leave(const lftf_model *m, int i, int entered);
/* Keeps block i resident from now on (a weight about to be trained or
 * edited); returns non-zero on failure. */
int lftf__model_block_pin(lftf_model *m, int i);
/* Bytes of the budget left for activations once the resident weights and
 * one streamed block are in memory (SIZE_MAX without a budget). */
size_t lftf__model_activation_room(const lftf_model *m);

/* ---- a batch of token sequences ------------------------------------------- */

typedef struct lftf_batch {
    int64_t B, T;               /* rows, padded length (max length) */
    int64_t *lengths;           /* host [B] */
    lt_tensor *ids;             /* [B, T] int64 on the device, padding = 0 */
    lt_tensor *last_index;      /* [B] int64: b*T + lengths[b]-1 (rows of H viewed [B*T, D]) */
    lt_tensor *valid;           /* [B, T] float32 on the device: 1 real token, 0 padding */
    lt_tensor *mask;            /* [1, 1, T, T] additive causal mask, compute dtype
                                   (0 / -inf), of the layers without a sliding window */
    lt_tensor *cos, *sin;       /* [T, rotary_dim] rotary tables in the compute dtype, or
                                   [B, 1, T, rotary_dim] when longrope gives rows of
                                   the batch different tables (short vs long factors) */
    /* model families (NULL when no layer needs them; use lftf__batch_layer_*): */
    lt_tensor *mask_sliding;    /* the causal mask limited to the sliding window */
    lt_tensor *cos_local, *sin_local; /* tables of sliding layers (Gemma 3's local base) */
    /* A prefix-shared batch (lftf__batch_create_shared) is ONE row (B = 1) of
     * the T distinct prefixes (trie nodes) of n_seqs sequences: mask = each
     * node sees itself and its ancestors, cos/sin = rows at each node's depth,
     * last_index = [n_seqs].  Sequence s's position t is node
     * seq_node[seq_start[s] + t].  Right-padded batches have n_seqs = 0.
     * lftf__batch_pos / lftf__batch_n_seqs serve both kinds. */
    size_t n_seqs;
    size_t *seq_start;          /* host [n_seqs + 1] */
    int64_t *seq_node;          /* host [seq_start[n_seqs]] */

    /* copies of the tables on the model's other devices (lftf__batch_for_block) */
    struct lftf_batch *on_device[LFTF_MAX_DEVICES];
} lftf_batch;

/* The additive mask and the rotary tables that block i uses. */
const lt_tensor *lftf__batch_layer_mask(const lftf_model *m, const lftf_batch *b, int i);
void lftf__batch_layer_rope(const lftf_model *m, const lftf_batch *b, int i,
                            const lt_tensor **cos, const lt_tensor **sin);

/* Builds a batch from B sequences of token ids (lens[b] >= 1).  Ids must be
 * < vocab_size (LFTF_E_RANGE naming the row and id); a sequence longer than
 * max_position_embeddings fails with LFTF_E_RANGE naming the row index and
 * both lengths. */
int lftf__batch_create(const lftf_model *m, const int32_t *const *ids, const size_t *lens,
                       size_t B, lftf_batch **out);
void lftf__batch_free(lftf_batch *b);
/* The checks of lftf__batch_create (lengths, ids, max_position_embeddings). */
int lftf__batch_check_sequences(const lftf_model *m, const int32_t *const *ids, const size_t *lens,
                                size_t B);
/* Sets b->cos/sin (and cos_local/sin_local) for b->B rows of lengths
 * b->lengths padded to b->T, as lftf__batch_create does. */
int lftf__batch_rope(const lftf_model *m, lftf_batch *b);

/* ---- prefix-shared batches (lib/model/shared_batch.c) ---------------------- */
/* The same sequences as lftf__batch_create, as one row of their token trie
 * (see lftf_batch): every block function works on it unchanged. */
int lftf__batch_create_shared(const lftf_model *m, const int32_t *const *ids, const size_t *lens,
                              size_t n_seqs, lftf_batch **out);
/* *pays = 1 when the shared batch of these sequences costs fewer multiply-
 * adds per block (projections per node + attention per node pair) than the
 * right-padded one. */
int lftf__batch_shared_pays(const lftf_model *m, const int32_t *const *ids, const size_t *lens,
                            size_t n_seqs, int *pays);
/* Flat index (into H viewed as [B*T, D]) of sequence seq's position t, for
 * either kind of batch; and the number of sequences (B when padded). */
int64_t lftf__batch_pos(const lftf_batch *b, size_t seq, size_t t);
size_t lftf__batch_n_seqs(const lftf_batch *b);

/* Row r's real positions of H [B, T, ...]: [lengths[r], ...] (a view).  With
 * lftf__batch_stack_rows the trainer caches the residual stream entering
 * block k per sequence and re-pads it into any later batch. */
int lftf__batch_row(const lftf_batch *b, const lt_tensor *H, size_t r, lt_tensor **out);
/* Stacks rows[r] ([lengths[r], D], r < B) into [B, T, D], zero-padded. */
int lftf__batch_stack_rows(const lftf_batch *b, const lt_tensor *const *rows, lt_tensor **out);

/* ---- the forward, piece by piece ------------------------------------------ */

/* H_0 = embed_tokens[ids]: [B, T, D] (times the config's embed_scale rounded to
 * the compute dtype, Gemma). */
int lftf__model_embed_ids(const lftf_model *m, const lftf_batch *b, lt_tensor **H0);
/* H_{i+1} = block_i(H_i): RMSNorm -> attention (RoPE, GQA, causal) -> residual
 * -> RMSNorm -> gated MLP -> residual, with the family's variations (q/k norms,
 * post-sub-layer norms, soft-capping, sliding layers; see lftf_config).  H_in
 * is not modified. */
int lftf__model_block_forward(const lftf_model *m, int i, const lt_tensor *H_in,
                              const lftf_batch *b, lt_tensor **H_out);
/* Editors' view into block i's MLP (lib/methods/edit_common.c): every field
 * may be NULL.  mlp_input gets the down_proj input SiLU(gate)*up [B, T, F]
 * and mlp_output the down_proj output [B, T, D] (new handles, autograd-
 * tracked); mlp_add (broadcastable to [B, T, D]) is added to the MLP output
 * before the residual. */
typedef struct lftf_block_hook {
    lt_tensor **mlp_input;
    lt_tensor **mlp_output;
    const lt_tensor *mlp_add;
} lftf_block_hook;
/* lftf__model_block_forward with a hook (NULL: the same as without). */
int lftf__model_block_forward_hooked(const lftf_model *m, int i, const lt_tensor *H_in,
                                     const lftf_batch *b, const lftf_block_hook *hook,
                                     lt_tensor **H_out);
/* Block i only where its output is read: rows [n, D] = block_i(H_in) at the
 * flat positions pos[0..n-1] (rows of H_in viewed as [B*T, D], pos = b*T + t;
 * LFTF_E_RANGE outside the batch).  Keys and values are computed at every
 * position, queries, attention output and MLP only at pos: the same ops as
 * lftf__model_block_forward, at a fraction of the cost for the last block
 * (it feeds nothing but the LM head, read at a few positions per prompt). */
int lftf__model_block_forward_at(const lftf_model *m, int i, const lt_tensor *H_in,
                                 const lftf_batch *b, const int64_t *pos, size_t n,
                                 lt_tensor **rows);
/* RMSNorm with the final norm weight (any shape [..., D]). */
int lftf__model_final_norm(const lftf_model *m, const lt_tensor *H, lt_tensor **out);
/* The rows `index` (1-D int64 into H viewed as [B*T, D]) of H: [N, D]. */
int lftf__model_select_rows(const lt_tensor *H, const lt_tensor *index, lt_tensor **out);
/* Logits of already-normalized hidden rows h [N, D]: [N, V] float32 (final
 * soft-capping applied, Gemma 2). */
int lftf__model_lm_head(const lftf_model *m, const lt_tensor *h, lt_tensor **logits);
/* Next-token log-probs [N, V] float32 at rows `index` of the LAST block's
 * output H_L (final norm, LM head and log_softmax applied to those rows only). */
int lftf__model_logprobs_at(const lftf_model *m, const lt_tensor *H_L, const lt_tensor *index,
                            lt_tensor **out);

/* The whole forward over a batch.  *last_logprobs (may be NULL): [B, V]
 * float32 log-probs of the token after each row's last real token.  hidden
 * (may be NULL): n_layers + 1 tensors [B, T, D], hidden[i] entering block i
 * and hidden[n_layers] leaving the last block (before the final norm); the
 * caller frees them.  Runs blocks first_block..n_layers-1 starting from H_start
 * when H_start != NULL (the residual stream entering first_block, e.g. cached
 * by the trainer); then hidden[0..first_block-1] are NULL. */
int lftf__model_forward(const lftf_model *m, const lftf_batch *b, int first_block,
                        const lt_tensor *H_start, lt_tensor **hidden, lt_tensor **last_logprobs);

/* ---- pieces for the key/value-cached forward (lib/model/kv_cache.c) ---- */

/* Block i's weight of a kind (NULL for an absent bias). */
const lt_tensor *lftf__model_block_weight(const lftf_model *m, int i, lftf_param_kind kind);
/* LlamaRMSNorm of x with weight w (as in every block). */
int lftf__model_rmsnorm(const lftf_model *m, const lt_tensor *x, const lt_tensor *w, lt_tensor **out);
/* Rotary embedding of x [..., hd] with cos/sin tables broadcast to x. */
int lftf__model_rope(const lt_tensor *x, const lt_tensor *cosv, const lt_tensor *sinv, int hd,
                     lt_tensor **out);
/* Block i's q, k, v projections of x ([..., Q], [..., KV], [..., KV]: views
 * of one product when the block's weights are fused); the caller frees them. */
int lftf__model_project_qkv(const lftf_model *m, int i, const lt_tensor *x, lt_tensor *qkv[3]);
/* cos/sin tables [T, head_dim] of positions 0..T-1, compute dtype (views of
 * the model's cached tables). */
int lftf__model_rope_tables(const lftf_model *m, int64_t T, lt_tensor **cosv, lt_tensor **sinv);
/* Block i's MLP on the normed input x [..., D]. */
int lftf__model_mlp(const lftf_model *m, int i, const lt_tensor *x, lt_tensor **out);
/* [B, T, n*hd] -> [B, n, T, hd] */
int lftf__model_split_heads(const lt_tensor *x, int64_t B, int64_t T, int n, int hd,
                            lt_tensor **out);

/* A key/value cache: per block, the keys (after RoPE) and values of the
 * tokens already run, [B, KV, S, hd].  Cached slots need not be contiguous:
 * kpos[b*S + s] is the position of slot s of row b in its sequence, or -1 for
 * a padding slot (every step appends T slots to every row, rows with fewer
 * new tokens leave padding).  Rows may be regrouped (lftf__kv_cache_select):
 * a context's states serve each of its continuations. */
typedef struct lftf_kv_cache {
    int n_layers;
    int64_t B, S;
    int64_t *kpos;              /* host [B * S] */
    int64_t *len;               /* host [B]: tokens cached per row (next position) */
    lt_tensor **k, **v;         /* [n_layers]; NULL while S == 0 */
} lftf_kv_cache;

/* 1 if the cached forward implements this model's blocks (Llama, Mistral,
 * Qwen2); lftf__kv_cache_create fails with LFTF_E_UNSUPPORTED otherwise. */
int lftf__kv_supported(const lftf_model *m);
int lftf__kv_cache_create(const lftf_model *m, size_t B, lftf_kv_cache **out);
void lftf__kv_cache_free(lftf_kv_cache *c);
/* A new cache whose row r is row rows[r] of src (n rows). */
int lftf__kv_cache_select(const lftf_kv_cache *src, const int64_t *rows, size_t n,
                          lftf_kv_cache **out);
/* Runs the new tokens ids[b][0..lens[b]-1] (lens[b] >= 1) of each row after
 * its cached tokens, appends their keys/values to the cache and returns the
 * last block's output *H_L [B, T, D] (T = max lens; before the final norm).
 * Rows' positions continue from c->len[b] (LFTF_E_RANGE past
 * max_position_embeddings).  Use lftf__model_logprobs_at on H_L. */
int lftf__kv_forward(const lftf_model *m, lftf_kv_cache *c, const int32_t *const *ids,
                     const size_t *lens, lt_tensor **H_L);
/* One cached-forward step without a cache to keep, over rows that each hold
 * a shared prefix and branches after it: token j of row b has position
 * pos[b][j] and branch branch[b][j] (0: the prefix) and sees the tokens of
 * the prefix and of its own branch at positions up to its own (with the
 * sliding window), as if each branch ran alone after the prefix.  The prefix
 * takes the first positions.  *H_L [B, T, D] as lftf__kv_forward's. */
int lftf__kv_forward_tree(const lftf_model *m, const int32_t *const *ids, const size_t *lens,
                          const int64_t *const *pos, const int32_t *const *branch, size_t B,
                          lt_tensor **H_L);

/* ---- several devices (lib/model/placement.c) -------------------------------- */

/* Parses "cpu", "cuda:1" or a comma-separated list into m->devices. */
int lftf__model_parse_devices(lftf_model *m, const char *spec);
/* Assigns contiguous ranges of blocks to the devices. */
int lftf__model_place_blocks(lftf_model *m);
/* Where a weight lives, and the index of block i's device (0: the first). */
lt_device lftf__param_device(const lftf_model *m, const lftf_param *p);
int lftf__model_block_device(const lftf_model *m, int i);
/* b itself, or its copy on block i's device (kept with b). */
int lftf__batch_for_block(const lftf_model *m, int i, const lftf_batch *b, const lftf_batch **out);
/* t on block i's device / on the first device (an alias if it is there). */
int lftf__to_block_device(const lftf_model *m, int i, const lt_tensor *t, lt_tensor **out);
int lftf__to_primary(const lftf_model *m, const lt_tensor *t, lt_tensor **out);

/* ---- identity (lib/model/fingerprint.c) ------------------------------------- */

/* 16 hex digits naming the model's weights (architecture, tensor names,
 * dtypes, shapes and first bytes). */
void lftf__model_fingerprint(const lftf_model *m, char out[17]);
/* FNV-1a 64 of data continuing from h (start: 14695981039346656037). */
uint64_t lftf__fnv1a(uint64_t h, const void *data, size_t n);

/* ---- sharded log-likelihood reports (lib/model/loglikelihood.c) ------------- */

/* lftf_model_loglikelihood, also giving next[i] (when next != NULL): the
 * greedy next token after request i's context, from the forward pass that
 * scores it, as lftf_model_target_probs would give it for the context as a
 * prompt (its argmax; float rounding apart).  -1: another shard's request;
 * -2: not computed (the context's ids are not its own encoding, the default
 * add_bos is not in use, the request was truncated, or the engine ran a path
 * that does not keep it: streamed blocks, a family without the cache whose
 * requests are all longer than one token); run lftf_model_target_probs then. */
int lftf__model_loglikelihood_next(lftf_model *model, const char *const *contexts,
                                   const char *const *continuations, size_t n,
                                   const lftf_ll_params *params, lftf_ll_result *results,
                                   int32_t *next);

/* lftf_model_loglikelihood_rolling, also handing out every window's result
 * (texts' windows in order; *windows freed with free()) when windows != NULL:
 * a sharded run's report keeps them so that merging adds them in this order. */
int lftf__ll_rolling(lftf_model *model, const char *const *texts, size_t n,
                     const lftf_ll_params *params, lftf_rolling_result *results,
                     lftf_ll_result **windows, size_t *n_windows);
/* A text's ll: its windows' lls added in order (NaN if one is another shard's). */
double lftf__ll_window_sum(const lftf_ll_result *windows, size_t n);

/* ---- running many batches (lib/model/runner.c) ------------------------------ */

/* What lftf__model_run calls back; NULL members are skipped. */
typedef struct lftf_run_visitor {
    /* after block i ran on batch k: H_in entered it, H_out left it */
    int (*block)(void *user, size_t k, int i, const lftf_batch *b, const lt_tensor *H_in,
                 const lt_tensor *H_out);
    /* batch k's output of the last block (before the final norm) */
    int (*last)(void *user, size_t k, const lftf_batch *b, const lt_tensor *H_L);
    void *user;
    const char *stage;          /* progress stage name; rows (prompts) done / total */
    const size_t *rows;         /* rows that batch k counts for in the progress
                                   (NULL: its B) */
    lftf_progress_fn progress;
    void *progress_user;
    /* partial != 0: run only blocks 0..n_blocks-1 (the trainer's frozen
     * prefix); `last` then sees the residual stream entering block n_blocks */
    int partial, n_blocks;
} lftf_run_visitor;

/* Runs batches[0..n-1] through every block and calls the visitor: batch
 * after batch when every block is resident, block after block (all batches
 * through block i while its weights are present) when the model streams
 * blocks.  Identical numbers either way. */
int lftf__model_run(const lftf_model *m, lftf_batch *const *batches, size_t n,
                    const lftf_run_visitor *v);
/* What batch b keeps in memory while it waits in a block-major pass (its
 * residual stream and its masks).  A pass takes batches while their sum stays
 * within half of lftf__model_activation_room (the other half is for one
 * batch's temporaries inside a block); lftf__model_run cuts its batches into
 * such passes, and callers that build batches lazily use the same rule. */
size_t lftf__batch_pass_bytes(const lftf_model *m, const lftf_batch *b);
size_t lftf__model_pass_room(const lftf_model *m);

/* ---- target words in context (lib/model/probs.c) ---------------------------------- */

/* Prompts x targets, encoded in context: target j's tokens after prompt p are
 * those that encoding prompt+target adds after the prompt's tokens.  The plan
 * lists the sequences to run (the prompt itself, or prompt + all but the last
 * token of a multi-token target, which covers the prompt's own last position
 * too) and, per (prompt, target), the positions whose log-probs sum to
 * log P(target | prompt) (chain rule). */
typedef struct lftf_target_plan {
    size_t n_prompts, n_targets;
    int32_t **prompt_ids;       /* [n_prompts] */
    size_t *prompt_len;
    int32_t **target_ids;       /* [n_prompts * n_targets] */
    size_t *target_len;
    /* sequences to run; those of prompt p are seq_first[p] .. seq_first[p+1]-1
     * (each starts with the prompt's tokens, so any of them gives the
     * next-token distribution at position prompt_len[p]-1) */
    size_t n_seqs;
    int32_t **seq_ids;
    size_t *seq_len;
    size_t *seq_first;          /* [n_prompts + 1] */
    size_t *prompt_seq;         /* [n_prompts] the sequence whose position
                                   prompt_len[p]-1 gives the prompt's next token */
    /* for pair (p, j) = p * n_targets + j: its target_len[pair] tokens are
     * predicted in sequence pair_seq[pair] at positions pair_pos[pair] ..
     * pair_pos[pair] + target_len[pair] - 1 (pair_pos is prompt_len[p]-1
     * unless the prompt's tokens are not a prefix of prompt+target's, where
     * the context is their common prefix) */
    size_t *pair_seq;
    size_t *pair_pos;
} lftf_target_plan;

/* Encodes prompts and targets (LFTF_E_EMPTY if a target adds no tokens after
 * a prompt, naming both; LFTF_E_RANGE if a sequence exceeds the model's
 * max_position_embeddings, naming the prompt index). */
int lftf__target_plan_build(const lftf_model *m, const char *const *prompts, size_t n_prompts,
                            const char *const *targets, size_t n_targets,
                            lftf_target_plan **out);
/* The same with BOS as lftf_probs_params.add_bos says (-1, 0, 1). */
int lftf__target_plan_build_bos(const lftf_model *m, const char *const *prompts,
                                size_t n_prompts, const char *const *targets, size_t n_targets,
                                int add_bos, lftf_target_plan **out);
void lftf__target_plan_free(lftf_target_plan *plan);
/* The batch of the sequences of the prompts prompt_idx[0..n-1] (any subset
 * of the plan's prompts in any order, e.g. a shuffled training batch), in
 * that order: the sequences of prompt_idx[0] first (seq_first order). */
int lftf__target_plan_batch(const lftf_model *m, const lftf_target_plan *plan,
                            const size_t *prompt_idx, size_t n, lftf_batch **out);
/* From the last block's output H_L of that batch: pair_logprobs [n, n_targets]
 * float32 = log P(target | prompt) (autograd-tracked when grads are on: the
 * trainer's loss is minus a sum of these), and (may be NULL) next_logprobs
 * [n, V] float32 at each prompt's last position. */
/* The flat positions (rows of H_L viewed as [B*T, D]) whose next-token
 * distributions lftf__target_plan_logprobs reads for this batch, ascending
 * and distinct (*pos malloc'd, free()). */
int lftf__target_plan_read_positions(const lftf_target_plan *plan, const size_t *idx, size_t n,
                                     const lftf_batch *b, int64_t **pos, size_t *n_pos);
/* The last block's output at those positions only, placed back into a
 * [B, T, D] tensor (zeros elsewhere, which nothing reads): a stand-in for
 * H_L in lftf__target_plan_logprobs at a fraction of the cost. */
int lftf__model_last_block_at(const lftf_model *m, const lt_tensor *H_in, const lftf_batch *b,
                              const int64_t *qpos, size_t N, lt_tensor **HL);
int lftf__target_plan_logprobs(const lftf_model *m, const lftf_target_plan *plan,
                               const size_t *prompt_idx, size_t n, const lftf_batch *b,
                               const lt_tensor *H_L, lt_tensor **pair_logprobs,
                               lt_tensor **next_logprobs);

#endif
