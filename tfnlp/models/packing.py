"""Packing text pairs as `[CLS] a [SEP] b [SEP]` with Hugging Face's truncation strategies.

keras-hub's `MultiSegmentPacker` truncates pairs "round_robin" (one token at a
time to each side, the first side first) or "waterfall" (the first side keeps
all it can, the second gets the rest). Neither is Hugging Face's default:

- `"longest_first"`: the longer side is cut first; when both must be cut each
  keeps half of the budget and an odd token goes to the longer side (to the
  second on a tie), as the Rust tokenizers of `BertTokenizer` do. Round robin
  gives that odd token to the first side instead (4 + 10 tokens into 7:
  round robin keeps 4 + 3, Hugging Face 3 + 4).
- `"only_first"` / `"only_second"`: cut only that side. Waterfall is
  "only_second" while the first side fits, but then silently drops the second
  side; here, as in Hugging Face, a side that would have to lose all its
  tokens is an error.
"""

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tfnlp.errors import DataError

HF_STRATEGIES = ("longest_first", "only_first", "only_second")
KERAS_HUB_STRATEGIES = ("round_robin", "waterfall")
TRUNCATION_STRATEGIES = HF_STRATEGIES + KERAS_HUB_STRATEGIES


def pair_keep_lengths(first_lengths, second_lengths, budget, strategy, xp=np):
    """Tokens each side keeps, for arrays of side lengths (`xp`: `np` or `tf`).

    Returns `(keep_first, keep_second, feasible)`; `feasible` is False where an
    "only_*" strategy would leave its side with no token.

    Example:
    >>> pair_keep_lengths(np.array([4]), np.array([10]), 7, "longest_first")[:2]
    (array([3]), array([4]))
    """
    total = first_lengths + second_lengths
    too_long = total > budget
    if strategy == "longest_first":
        short = xp.minimum(first_lengths, second_lengths)
        longer = xp.where(short > budget, short, xp.maximum(short, budget - short))
        both_cut = short + longer > budget
        short = xp.where(both_cut, budget // 2, short)
        longer = xp.where(both_cut, budget // 2 + budget % 2, longer)
        first_is_longer = first_lengths > second_lengths
        keep_first = xp.minimum(first_lengths, xp.where(first_is_longer, longer, short))
        keep_second = xp.minimum(second_lengths, xp.where(first_is_longer, short, longer))
        return keep_first, keep_second, total >= 0  # always possible
    if strategy == "only_first":
        keep_first = xp.where(too_long, budget - second_lengths, first_lengths)
        return keep_first, second_lengths, keep_first >= 1
    if strategy == "only_second":
        keep_second = xp.where(too_long, budget - first_lengths, second_lengths)
        return first_lengths, keep_second, keep_second >= 1
    raise ValueError(f"truncate={strategy!r} is not one of {HF_STRATEGIES}.")


def _infeasible_message(strategy, budget):
    other = "second" if strategy == "only_first" else "first"
    return (
        f"truncate={strategy!r}: the {other} text alone fills the budget of {budget} tokens, so the "
        f"{strategy.removeprefix('only_')} text would lose all its tokens. Use truncate='longest_first', "
        "a larger sequence_length, or shorter texts."
    )


@keras.saving.register_keras_serializable(package="tfnlp")
class PairPacker(keras_hub.layers.MultiSegmentPacker):
    """`MultiSegmentPacker` that also truncates pairs as Hugging Face does.

    Args:
        truncate: `"longest_first"`, `"only_first"`, `"only_second"`, or
            keras-hub's `"round_robin"` / `"waterfall"`.
        **kwargs: the arguments of `keras_hub.layers.MultiSegmentPacker`.

    Example:
    >>> packer = PairPacker(sequence_length=10, start_value=2, end_value=3,
    ...     truncate="longest_first")
    >>> token_ids, segment_ids = packer(([5, 6, 7, 8], [9] * 10))
    >>> np.asarray(token_ids).tolist()
    [2, 5, 6, 7, 3, 9, 9, 9, 9, 3]
    """

    def __init__(self, *args, truncate="longest_first", **kwargs):
        if truncate not in TRUNCATION_STRATEGIES:
            raise ValueError(f"truncate={truncate!r} is not one of {TRUNCATION_STRATEGIES}.")
        super().__init__(*args, truncate="round_robin" if truncate in HF_STRATEGIES else truncate, **kwargs)
        self.truncate = truncate

    def _budget(self, num_segments, add_start_value, add_end_value, sequence_length):
        return (
            (sequence_length or self.sequence_length)
            - (len(self.start_value) if add_start_value else 0)
            - (num_segments - 1) * len(self.sep_value)
            - (len(self.end_value) if add_end_value else 0)
        )

    def _trim_inputs_tf(self, inputs, sequence_length=None, add_start_value=True, add_end_value=True):
        if self.truncate not in HF_STRATEGIES:
            return super()._trim_inputs_tf(inputs, sequence_length, add_start_value, add_end_value)
        budget = self._budget(len(inputs), add_start_value, add_end_value, sequence_length)
        if len(inputs) == 1:
            return [inputs[0][:, :budget]]
        if len(inputs) != 2:
            raise ValueError(f"truncate={self.truncate!r} packs one or two segments, got {len(inputs)}.")
        first, second = inputs
        keep_first, keep_second, feasible = pair_keep_lengths(
            first.row_lengths(), second.row_lengths(), tf.constant(budget, tf.int64), self.truncate, xp=tf
        )
        check = tf.debugging.Assert(tf.reduce_all(feasible), [_infeasible_message(self.truncate, budget)])
        with tf.control_dependencies([check]):
            return [_keep_first_n(first, keep_first), _keep_first_n(second, keep_second)]

    def _trim_inputs_python(self, inputs, sequence_length=None, add_start_value=True, add_end_value=True):
        if self.truncate not in HF_STRATEGIES:
            return super()._trim_inputs_python(inputs, sequence_length, add_start_value, add_end_value)
        budget = self._budget(len(inputs), add_start_value, add_end_value, sequence_length)
        if len(inputs) == 1:
            return [[list(row)[:budget] for row in inputs[0]]]
        first, second = inputs
        keep_first, keep_second, feasible = pair_keep_lengths(
            np.array([len(row) for row in first]), np.array([len(row) for row in second]), budget, self.truncate
        )
        if not feasible.all():
            row = int(np.argmin(feasible))
            raise DataError(f"pair {row + 1}: {_infeasible_message(self.truncate, budget)}")
        return [
            [list(row)[:n] for row, n in zip(first, keep_first)],
            [list(row)[:n] for row, n in zip(second, keep_second)],
        ]


def _keep_first_n(ragged, counts):
    """The first `counts[i]` items of each row of a ragged batch."""
    positions = tf.ragged.range(ragged.row_lengths())
    return tf.ragged.boolean_mask(ragged, positions < tf.expand_dims(counts, 1))
