"""Knowledge distillation (Hinton et al. 2015): a student learns from labels and a teacher's soft targets.

Loss per batch, with student logits `s`, teacher logits `t`, temperature `T`:

    alpha * CE(labels, s) + (1 - alpha) * T^2 * KL(softmax(t / T) || softmax(s / T))

`T^2` keeps the soft term's gradients on the scale of the hard one as `T` grows.
With `hidden_weight > 0` the student's transformer layers also learn the
teacher's hidden states (TinyBERT's intermediate-layer distillation, Jiao et al.
2020): `+ hidden_weight * mean_l MSE(student_l, teacher_{map(l)})` over the real
tokens, where `map` pairs every student layer with a teacher layer.
The teacher only runs in inference mode and is never updated.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfnlp.data.pipeline import text_dataset, word_counts
from tfnlp.errors import ConfigError


@keras.saving.register_keras_serializable(package="tfnlp")
class Distiller(keras.Model):
    """Train `student` to match `teacher` and the labels; train it with `tfnlp.training.fit`.

    Both models take the same raw inputs. Keras-hub tasks (e.g. `EncoderClassifier`)
    have their preprocessors applied inside the step; when student and teacher
    tokenize alike (the same preprocessor, or equal vocabulary and settings), the
    text is tokenized once for both. Models without a preprocessor get `x` as it is.

    The teacher's logits can be computed once instead of at every step: give
    `fit` labels from `with_teacher_logits` (its forward pass is then no part
    of a step; the teacher is deterministic in inference mode, so the loss is
    the same).

    Validation reports the student alone: `loss` is its hard-label loss and the
    metrics are the student's, so runs with different `alpha` compare fairly.
    Save `distiller.student`: it reloads on its own, without the teacher.

    Hidden-state distillation needs encoder tasks (`EncoderClassifier`s) of
    the same width that tokenize alike; the teacher then runs at every step
    (its hidden states are not cached).

    Args:
        student: the model to train; outputs logits.
        teacher: a trained model with the same label set; outputs logits.
        alpha: weight of the hard-label loss; `1.0` is plain fine-tuning.
        temperature: softens both distributions in the distillation term.
        hidden_weight: weight of the hidden-state term; `0.0` (default) leaves it out.
        layer_map: the teacher layer each student layer learns from; default
            evenly spaced, ending at the last (`(1, 3, 5)` for 3 of 6 layers).

    Example:
    >>> distiller = Distiller(student_classifier(teacher), teacher, alpha=0.5, temperature=4.0)  # doctest: +SKIP
    >>> fit(distiller, train, validation, epochs=5, learning_rate=1e-4)  # doctest: +SKIP
    >>> save_model(distiller.student, "run/model.keras")  # doctest: +SKIP
    """

    # `tfnlp.training.fit` needs no `loss`: `compile` sets the distillation loss.
    defines_own_loss = True

    def __init__(self, student, teacher, alpha=0.5, temperature=2.0, hidden_weight=0.0, layer_map=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha={alpha}: the weight of the hard-label loss must be in [0, 1].")
        if temperature <= 0:
            raise ConfigError(f"temperature={temperature}: must be positive (typically 1 to 20).")
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.alpha = float(alpha)
        self.temperature = float(temperature)
        self.shares_preprocessing = same_preprocessing(
            getattr(student, "preprocessor", None), getattr(teacher, "preprocessor", None)
        )
        self.hidden_weight = float(hidden_weight)
        self.layer_map = None
        if self.hidden_weight:
            self.layer_map = self._check_hidden_distillation(layer_map)
            self._student_states = with_hidden_states(student, range(len(self.layer_map)))
            self._teacher_states = with_hidden_states(teacher, self.layer_map)
        self._distillation_metrics = []
        self.built = True  # both models are built; this wrapper owns no weights of its own

    def compile(self, optimizer="adamw", loss=None, metrics=None, **kwargs):
        """Set the optimizer, the student's hard-label `loss` and the `metrics` on the student's logits.

        Args:
            optimizer: a Keras optimizer (`tfnlp.training.fit` passes AdamW
                with warm-up and decay).
            loss: hard-label loss; default sparse categorical cross-entropy
                on logits.
            metrics: metrics of the student's logits against the labels;
                default accuracy, logged as `sparse_categorical_accuracy`
                (the name keras-hub classifiers use).
            **kwargs: other `keras.Model.compile` arguments.
        """
        super().compile(optimizer=optimizer, **kwargs)
        self.student_loss_fn = (
            keras.losses.get(loss) if loss is not None else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        metrics = metrics or [keras.metrics.SparseCategoricalAccuracy(name="sparse_categorical_accuracy")]
        self.loss_tracker = keras.metrics.Mean(name="loss")
        # One mean per loss term, logged for TensorBoard beside the total.
        terms = ["student_loss", "distillation_loss"] + (["hidden_loss"] if self.hidden_weight else [])
        self.term_trackers = {name: keras.metrics.Mean(name=name) for name in terms}
        self.student_metrics = [keras.metrics.get(metric) for metric in metrics]

    @property
    def metrics(self):
        if not getattr(self, "compiled", False) or not hasattr(self, "loss_tracker"):
            return []
        return [self.loss_tracker, *self.term_trackers.values(), *self.student_metrics]

    def call(self, inputs, training=False):
        """The student's logits for raw inputs."""
        return self.student(_preprocess(self.student, inputs), training=training)

    def compute_losses(self, y, student_logits, teacher_logits, sample_weight=None, hidden_states=None):
        """`{"loss", "student_loss", "distillation_loss"}` for one batch (see the module docstring).

        `hidden_states`, `(student_states, teacher_states, padding_mask)`, adds `"hidden_loss"`.
        """
        student_loss = self.student_loss_fn(y, student_logits, sample_weight=sample_weight)
        distillation_loss = self.temperature**2 * soft_target_kl(
            teacher_logits, student_logits, self.temperature, sample_weight
        )
        loss = self.alpha * student_loss + (1.0 - self.alpha) * distillation_loss
        losses = {"loss": loss, "student_loss": student_loss, "distillation_loss": distillation_loss}
        if hidden_states is not None:
            losses["hidden_loss"] = hidden_state_mse(*hidden_states)
            losses["loss"] += self.hidden_weight * losses["hidden_loss"]
        return losses

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y, teacher_logits = _split_targets(y)
        student_inputs = _preprocess(self.student, x)
        teacher_logits, teacher_states = self._teacher_outputs(x, student_inputs, teacher_logits)
        variables = self.student.trainable_variables
        with tf.GradientTape() as tape:
            if self.hidden_weight:
                student_logits, *student_states = self._student_states(student_inputs, training=True)
                hidden_states = (student_states, teacher_states, student_inputs["padding_mask"])
            else:
                student_logits, hidden_states = self.student(student_inputs, training=True), None
            losses = self.compute_losses(y, student_logits, teacher_logits, sample_weight, hidden_states)
            loss = losses["loss"] + sum(self.student.losses)  # regularizers, if any
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        for name, tracker in self.term_trackers.items():
            tracker.update_state(losses[name])
        return self._update_metrics(losses["loss"], y, student_logits, sample_weight)

    def _teacher_outputs(self, x, student_inputs, cached_logits):
        """`(logits, hidden states)` of the teacher, constants for the student's gradients; cached logits
        (from `with_teacher_logits`) spare its forward pass unless its hidden states are needed."""
        states = []
        if self.hidden_weight:
            logits, *states = self._teacher_states(student_inputs, training=False)
        elif cached_logits is not None:
            logits = cached_logits
        else:
            logits = self.teacher(student_inputs if self.shares_preprocessing else _preprocess(self.teacher, x),
                                  training=False)
        return ops.stop_gradient(logits), [ops.stop_gradient(state) for state in states]

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y, _ = _split_targets(y)
        student_logits = self(x, training=False)
        loss = self.student_loss_fn(y, student_logits, sample_weight=sample_weight)
        logs = self._update_metrics(loss, y, student_logits, sample_weight)
        return {name: value for name, value in logs.items() if name not in self.term_trackers}

    def _check_hidden_distillation(self, layer_map):
        """The layer map, after checking that the two models' hidden states can be compared."""
        encoders = [getattr(getattr(model, "backbone", None), "transformer_layers", None)
                    for model in (self.student, self.teacher)]
        if None in encoders:
            raise ConfigError("hidden_weight > 0 needs a student and a teacher on transformer encoders "
                              "(EncoderClassifier); set hidden_weight=0 for other models.")
        widths = [model.backbone.hidden_dim for model in (self.student, self.teacher)]
        if widths[0] != widths[1]:
            raise ConfigError(f"hidden_weight > 0 compares hidden states, but the student is {widths[0]} wide and "
                              f"the teacher {widths[1]}: use a student of the teacher's width or hidden_weight=0.")
        if not self.shares_preprocessing:
            raise ConfigError("hidden_weight > 0 compares the models token by token, so they must tokenize alike; "
                              "give the student the teacher's preprocessor (as `student_classifier` does).")
        student_layers, teacher_layers = (len(layers) for layers in encoders)
        if layer_map is None:
            return [(index + 1) * teacher_layers // student_layers - 1 for index in range(student_layers)]
        layer_map = [int(index) for index in layer_map]
        if len(layer_map) != student_layers or not all(0 <= index < teacher_layers for index in layer_map):
            raise ConfigError(f"layer_map={layer_map}: give one teacher layer (0-{teacher_layers - 1}) for each of "
                              f"the student's {student_layers} layers.")
        return layer_map

    def _update_metrics(self, loss, y, logits, sample_weight):
        self.loss_tracker.update_state(loss)
        for metric in self.student_metrics:
            metric.update_state(y, logits, sample_weight=sample_weight)
        return {metric.name: metric.result() for metric in self.metrics}

    def get_config(self):
        return {
            **super().get_config(),
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "alpha": self.alpha,
            "temperature": self.temperature,
            "hidden_weight": self.hidden_weight,
            "layer_map": self.layer_map,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("student", "teacher"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def with_teacher_logits(teacher, texts, labels=None, batch_size=64):
    """`{"labels", "teacher_logits"}` for `text_dataset(texts, ...)`: a `Distiller` then skips the teacher.

    Worth it when the student trains several epochs on the same texts (a
    search, long distillation): the teacher runs once over `texts` instead of
    once per step. Texts are scored in order of length, so batches pad little.
    Without `labels` (unlabelled texts: a transfer set, augmented variants) the
    teacher's predictions are the hard labels.

    Example:
    >>> targets = with_teacher_logits(teacher, texts, labels)  # doctest: +SKIP
    >>> train = text_dataset(texts, targets, batch_size=32, shuffle=True, seed=0)  # doctest: +SKIP
    >>> fit(Distiller(student, teacher, alpha=0.5, temperature=4.0), train, epochs=5)  # doctest: +SKIP
    """
    texts = np.asarray(texts, dtype=object)
    order = np.argsort(word_counts(texts), kind="stable")
    batches = text_dataset(texts[order], batch_size=batch_size, bucket_by_length=False)
    sorted_logits = np.asarray(teacher.predict(batches, verbose=0), dtype="float32")
    logits = np.empty_like(sorted_logits)
    logits[order] = sorted_logits
    labels = logits.argmax(axis=-1) if labels is None else np.asarray(labels)
    return {"labels": labels.astype("int32"), "teacher_logits": logits}


def with_hidden_states(model, layers):
    """A model that shares `model`'s weights and returns `[logits, hidden states of `layers`...]`."""
    transformer_layers = model.backbone.transformer_layers
    return keras.Model(model.input, [model.output, *(transformer_layers[index].output for index in layers)])


def hidden_state_mse(student_states, teacher_states, padding_mask):
    """Mean over layers of the squared error per hidden unit, averaged over the real (unpadded) tokens."""
    mask = ops.cast(padding_mask, "float32")[..., None]
    tokens = ops.sum(mask) * ops.cast(ops.shape(student_states[0])[-1], "float32")
    errors = [ops.sum(ops.square(ops.cast(student, "float32") - ops.cast(teacher, "float32")) * mask) / tokens
              for student, teacher in zip(student_states, teacher_states)]
    return ops.mean(ops.stack(errors))


def _split_targets(y):
    """`(labels, teacher_logits or None)`: labels from `with_teacher_logits` carry the teacher's logits."""
    if isinstance(y, dict):
        return y["labels"], y.get("teacher_logits")
    return y, None


def soft_target_kl(teacher_logits, student_logits, temperature, sample_weight=None):
    """Mean over the batch of KL(softmax(teacher / T) || softmax(student / T)), computed in log space."""
    teacher_log_probs = ops.log_softmax(ops.cast(teacher_logits, "float32") / temperature, axis=-1)
    student_log_probs = ops.log_softmax(ops.cast(student_logits, "float32") / temperature, axis=-1)
    per_example = ops.sum(ops.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs), axis=-1)
    if sample_weight is not None:
        per_example = per_example * ops.cast(ops.reshape(sample_weight, ops.shape(per_example)), "float32")
    return ops.mean(per_example)


def same_preprocessing(first, second):
    """Whether two preprocessors give the same inputs: the same object, or equal settings and vocabulary."""
    if first is second:
        return first is not None
    if first is None or second is None or type(first) is not type(second):
        return False
    return _preprocessing_signature(first) == _preprocessing_signature(second)


def _preprocessing_signature(preprocessor):
    ignored = ("name", "trainable", "tokenizer", "vocabulary")  # names and freezing do not change the ids
    config = {key: value for key, value in preprocessor.get_config().items() if key not in ignored}
    tokenizer = getattr(preprocessor, "tokenizer", None)
    if tokenizer is None:
        return config, None, None
    tokenizer_config = {key: value for key, value in tokenizer.get_config().items() if key not in ignored}
    return config, tokenizer_config, list(tokenizer.get_vocabulary())


def _preprocess(model, x):
    preprocessor = getattr(model, "preprocessor", None)
    return x if preprocessor is None else preprocessor(x)
